@0x80b15a9b922d6001;
const first :UInt32 = .second;
const second :UInt32 = .first;
