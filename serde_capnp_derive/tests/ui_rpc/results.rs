use serde_capnp::rpc::interface;
use serde_capnp::Result;

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait Value {
    async fn read(&self) -> Result<String>;
}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Sink")]
trait Sink {
    async fn write(&self, chunk: Vec<u8>) -> Result<u32>;
    async fn total(&self) -> Result<u64>;
}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Shape")]
trait Shape {
    async fn area(&self) -> Result<f64>;
}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Square")]
trait Square: Shape {
    async fn grow(&self, by: f64) -> Result<f64>;
    async fn side(&self) -> Result<ShapeClient>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Function")]
trait Function {
    async fn call(&self, params: Vec<f64>) -> Result<f64>;
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Expression;

#[interface(schema = "schemas/calculator.capnp", name = "Calculator")]
trait Calculator {
    async fn get_operator(&self, op: u16) -> Result<ShapeClient>;
    async fn def_function(&self, param_count: i32, body: Expression) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
trait Value2 {
    async fn read(&self) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator")]
trait WrongClients {
    async fn evaluate(&self, expression: Expression) -> Result<FunctionClient>;
    async fn get_operator(&self, op: Operator) -> Result<Value2Client>;
}

#[derive(serde::Serialize, serde::Deserialize)]
enum Operator {
    Add,
}

fn main() {}
