@0xe23323b2de71eb1a;
struct Thing {}
using Thing;
