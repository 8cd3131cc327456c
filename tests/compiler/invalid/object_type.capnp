@0xd491ebee23ff9ad3;
struct Legacy {
  payload @0 :Object;
}
