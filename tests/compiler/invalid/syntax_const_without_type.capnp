@0xe3cfddaffa93e1fc;
const untyped = 5;
