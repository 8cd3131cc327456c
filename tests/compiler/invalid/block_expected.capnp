@0x95dc060753b79819;
struct Point;
