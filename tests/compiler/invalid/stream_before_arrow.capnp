@0xfdb85e13ac246bdc;
interface Sink {
  write @0 stream -> ();
}
