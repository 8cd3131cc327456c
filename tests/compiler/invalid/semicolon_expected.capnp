@0xc0d1c5c08d78fe91;
const limit :UInt32 = 5 {
}
