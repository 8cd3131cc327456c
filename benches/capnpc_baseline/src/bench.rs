//! The `Bench` interface of `schemas/rpc_bench.capnp` served by capnpc-generated code: the
//! baseline of the RPC benchmarks.

use capnp::capability::Promise;
use capnp::Error;
use capnp_rpc::pry;

use crate::rpc_bench_capnp::bench;

/// A `Bench` object made with the number `base`.
pub struct BenchImpl {
    /// Added to `ping`'s and `next`'s argument.
    pub base: u64,
}

impl bench::Server for BenchImpl {
    fn ping(
        self: capnp::capability::Rc<Self>,
        params: bench::PingParams,
        mut results: bench::PingResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let n = pry!(params.get()).get_n();
        results.get().set_n(self.base.wrapping_add(n));
        Promise::ok(())
    }

    fn echo(
        self: capnp::capability::Rc<Self>,
        params: bench::EchoParams,
        mut results: bench::EchoResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let data = pry!(pry!(params.get()).get_data());
        results.get().set_data(data);
        Promise::ok(())
    }

    fn next(
        self: capnp::capability::Rc<Self>,
        params: bench::NextParams,
        mut results: bench::NextResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let base = self.base.wrapping_add(pry!(params.get()).get_n());
        results
            .get()
            .set_next(capnp_rpc::new_client(BenchImpl { base }));
        Promise::ok(())
    }
}

/// The bootstrap `Bench` object (made with 0).
pub fn bootstrap() -> bench::Client {
    capnp_rpc::new_client(BenchImpl { base: 0 })
}
