@0xd4c68a8969225146;
const text :Text = embed "no-such-file.txt";
