use serde_capnp::rpc::interface;
use serde_capnp::Result;

#[interface]
trait NoSchema {
    async fn read(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp")]
trait NoName {
    async fn read(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value", nmae = "x", crate = "not a path")]
trait Unknown {
    async fn read(&self) -> Result<f64>;
}

#[interface(schema = "schemas/missing.capnp", name = "Calculator")]
trait MissingFile {}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Valeu")]
trait MissingNode {}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Expression")]
trait NotAnInterface {}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
struct NotATrait;

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait Generic<T> {
    async fn read(&self) -> Result<f64>;
}

fn main() {}
