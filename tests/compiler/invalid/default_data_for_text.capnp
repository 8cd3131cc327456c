@0xecb0f8d807d0374c;
struct Settings {
  name @0 :Text = 0x"00ff";
}
