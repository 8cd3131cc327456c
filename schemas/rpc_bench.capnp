# The interface of the RPC benchmarks (benches/rpc.rs), served both by serde_capnp's dynamic
# server and by capnpc-generated code.
@0xa3186c620a4a19e7;

interface Bench {
  # Returns `n` plus the number this object was made with (0 for the bootstrap object): the
  # smallest useful call, for latency.
  ping @0 (n :UInt64) -> (n :UInt64);

  # Returns `data` unchanged: a call whose cost grows with its payload.
  echo @1 (data :Data) -> (data :Data);

  # Returns a new `Bench` object made with `n` plus this object's number: a call whose result
  # is called next, for chains of dependent calls (pipelined or awaited one by one).
  next @2 (n :UInt64) -> (next :Bench);
}
