@0xb074f8fff07df907;
struct Point {
  x @0 :Float32 `;
}
