use serde_capnp::rpc::interface;
use serde_capnp::Result;

#[derive(serde::Serialize, serde::Deserialize)]
struct Expression;

#[interface(schema = "schemas/calculator.capnp", name = "Calculator")]
trait Names {
    async fn def_function(&self, params: i32, body: Expression) -> Result<()>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Function")]
trait Types {
    async fn call(&self, params: Vec<String>) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator")]
trait Data {
    async fn def_function(&self, param_count: Option<i32>, body: Expression) -> Result<()>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Function")]
trait Patterns {
    async fn call(&self, (a, b): (f64, f64)) -> Result<f64>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Function")]
trait NamesSelf {
    async fn call(&self, params: Vec<Self>) -> Result<f64>;
}

#[interface(schema = "schemas/rpc_macro.capnp", name = "Store")]
trait Capabilities {
    async fn open(&self, label: String) -> Result<(f64, String)>;
}

fn main() {}
