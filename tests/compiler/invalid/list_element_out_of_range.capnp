@0xd61739007a9a9246;
const bytes :List(UInt8) = [1, 2, 300];
