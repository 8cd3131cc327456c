@0xfa9d395d71212690;
interface Derived(Parent) extends(Parent) {}
