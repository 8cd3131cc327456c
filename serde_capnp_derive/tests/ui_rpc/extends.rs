use serde_capnp::rpc::interface;
use serde_capnp::Result;

#[interface(schema = "schemas/rpc_macro.capnp", name = "Shape")]
trait Shape {
    async fn area(&self) -> Result<f64>;
}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Sink")]
trait Sink {}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Square")]
trait NoSupertrait {}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Store")]
trait ExtraSupertrait: Shape {}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Square")]
trait WrongSupertrait: Sink {}

#[interface(schema = "schemas/clash.capnp", name = "Base")]
trait Base {}

#[interface(schema = "schemas/clash.capnp", name = "Derived")]
trait Derived: Base {}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait FromServer {
    async fn from_server(&self) -> Result<f64>;
}

fn main() {}
