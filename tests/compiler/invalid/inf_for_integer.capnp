@0xa0dee0fd9279a38a;
const count :Int32 = inf;
