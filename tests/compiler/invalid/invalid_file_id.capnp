@0x1234;
struct Fine {}
