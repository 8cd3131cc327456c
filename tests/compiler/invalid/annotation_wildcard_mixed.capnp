@0xe665277d071f0979;
annotation broad(*, struct) :Void;
