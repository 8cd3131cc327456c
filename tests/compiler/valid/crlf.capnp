@0xc2f9f7291de5b811;
# A file with a UTF-8 byte-order mark and CRLF line endings.

struct Windows {
  # Doc comments here end in a carriage return.
  path @0 :Text = "C:\\Temp";  # The field doc comment.
  size @1 :UInt64;
}

enum Newline {
  lf @0;
  crlf @1;  # The default on one platform.
}
