@0xcc0fcea2e9becadf;
const greeting :Text = "bad \q escape";
