# A calculator served over Cap'n Proto RPC. The file ID, and so every node ID, is the one of the
# calculator example that ships with Cap'n Proto and pycapnp, so that their example clients and
# servers talk to this crate's `calculator_server` and `calculator_client` examples.
@0x85150b117366d14b;

interface Calculator {
  # Evaluates an expression. The result is a `Value` capability rather than a number, so that a
  # client can pass it back as `previousResult` (promise pipelining) without waiting for it.
  evaluate @0 (expression :Expression) -> (value :Value);

  struct Expression {
    union {
      literal @0 :Float64;
      previousResult @1 :Value;
      parameter @2 :UInt32;    # Only inside a function body: the index of a parameter.
      call :group {
        function @3 :Function;
        params @4 :List(Expression);
      }
    }
  }

  interface Value {
    read @0 () -> (value :Float64);
  }

  # Defines a function of `paramCount` parameters whose body is `body`.
  defFunction @1 (paramCount :Int32, body :Expression) -> (func :Function);

  interface Function {
    call @0 (params :List(Float64)) -> (value :Float64);
  }

  # One of the four arithmetic operators, as a function of two parameters.
  getOperator @2 (op :Operator) -> (func :Function);

  enum Operator {
    add @0;
    subtract @1;
    multiply @2;
    divide @3;
  }
}
