@0xda49119aba446f72;
struct Small @0x1234 {}
