@0xcd85c0988abdd0ad;
@0x952cf3e9c058a179;
struct Twice {}
