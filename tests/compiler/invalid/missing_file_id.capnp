struct Lonely {
  value @0 :Int32;
}
