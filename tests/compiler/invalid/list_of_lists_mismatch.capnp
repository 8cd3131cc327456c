@0xd4c84da488af8db8;
const rows :List(List(Int8)) = [[1], 2];
