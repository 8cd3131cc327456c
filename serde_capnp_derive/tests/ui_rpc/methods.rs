use serde_capnp::rpc::interface;
use serde_capnp::Result;

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait UnknownMethod {
    async fn read(&self) -> Result<f64>;
    async fn write(&self) -> Result<()>;
}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Shape")]
trait Shape {}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Square")]
trait Inherited: Shape {
    async fn area(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait Receivers {
    async fn read(&mut self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait NoReceiver {
    async fn read() -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait GenericMethod {
    async fn read<T>(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait NotAsync {
    fn read(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait NotAResult {
    async fn read(&self) -> f64;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait NoOutput {
    async fn read(&self);
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait OtherItems {
    const X: u32;
    type Out;
    async fn read(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
#[allow(non_snake_case)]
trait Twice {
    async fn read(&self) -> Result<f64>;
    async fn Read(&self) -> Result<f64>;
}

fn main() {}
