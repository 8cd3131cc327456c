@0xee7670dbf27d59c5;
enum Fruit {
  apple @0;
}
const favourite :Fruit = Fruit.apple;
