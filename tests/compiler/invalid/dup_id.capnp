@0xcc6b1f586ab679d3;
struct First @0xc328b266ad65768c {}
struct Second @0xc328b266ad65768c {}
