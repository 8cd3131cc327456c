@0xa63e0dcde82899c2;
const greeting :Text = "hello;
