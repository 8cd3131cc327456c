@0xd77c6c57a6f154dc;
const loop :Text = .loop;
