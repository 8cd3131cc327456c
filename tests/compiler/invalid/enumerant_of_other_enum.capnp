@0xdb2e378fcb5a7961;
enum Fruit {
  apple @0;
}
enum Vegetable {
  carrot @0;
}
struct Basket {
  fruit @0 :Fruit = carrot;
}
