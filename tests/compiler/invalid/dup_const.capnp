@0xc85dd95c0cd9483a;
const limit :Int8 = 1;
const limit :Int8 = 2;
