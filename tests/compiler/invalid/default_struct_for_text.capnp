@0xbdcb83957efa8763;
struct Settings {
  name @0 :Text = (value = "x");
}
