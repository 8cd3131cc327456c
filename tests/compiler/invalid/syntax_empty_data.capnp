@0xc120ac94ad9d8f4c;
const nothing :Data = 0x"";
