@0x90e5be90845cbb7f;
const label :Text = "日本語"; const count :UInt8 = 300;
