@0xa1b19be784897e3a;
struct Same @0xa1b19be784897e3a {}
