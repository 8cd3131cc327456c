@0x959503a6456e4020;
interface Service {
  call @0 (count :UInt32 = null);
}
