//! The calculator of `schemas/calculator.capnp` as Rust traits bound by the `interface`
//! attribute macro: the server, and a client that runs the checks of the calculator example
//! of Cap'n Proto and pycapnp. Shared by the `calculator_server` and `calculator_client`
//! examples and the tests.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_capnp::rpc::interface;
use serde_capnp::{Capnp, Error, Result};

#[derive(Clone, Debug, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/calculator.capnp", name = "Calculator.Expression")]
pub enum Expression {
    Literal(f64),
    PreviousResult(ValueClient),
    Parameter(u32),
    Call {
        function: FunctionClient,
        params: Vec<Expression>,
    },
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/calculator.capnp", name = "Calculator.Operator")]
pub enum Operator {
    Add,
    Subtract,
    Multiply,
    Divide,
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator")]
pub trait Calculator {
    async fn evaluate(&self, expression: Expression) -> Result<ValueClient>;
    async fn def_function(
        &self,
        param_count: i32,
        body: Expression,
    ) -> Result<FunctionClient, Error>;
    async fn get_operator(&self, op: Operator) -> Result<FunctionClient, Error>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Value")]
pub trait Value {
    async fn read(&self) -> Result<f64, Error>;
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Function")]
pub trait Function {
    async fn call(&self, params: Vec<f64>) -> Result<f64, Error>;
}

/// Evaluates `expression`, whose `Parameter`s are `params`. Recursive, so boxed.
pub fn evaluate(
    expression: Expression,
    params: Rc<Vec<f64>>,
) -> Pin<Box<dyn Future<Output = Result<f64>>>> {
    Box::pin(async move {
        match expression {
            Expression::Literal(x) => Ok(x),
            Expression::PreviousResult(value) => value.read().await,
            Expression::Parameter(i) => params.get(i as usize).copied().ok_or_else(|| {
                Error::failed(format!(
                    "parameter {i} is out of range: the function has {}",
                    params.len()
                ))
            }),
            Expression::Call {
                function,
                params: args,
            } => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(evaluate(a, params.clone()).await?);
                }
                function.call(values).await
            }
        }
    })
}

pub struct CalculatorServer;

impl Calculator for CalculatorServer {
    async fn evaluate(&self, expression: Expression) -> Result<ValueClient> {
        let value = evaluate(expression, Rc::new(Vec::new())).await?;
        Ok(ValueClient::from_server(ValueServer(value)))
    }

    async fn def_function(&self, param_count: i32, body: Expression) -> Result<FunctionClient> {
        Ok(FunctionClient::from_server(Defined { param_count, body }))
    }

    async fn get_operator(&self, op: Operator) -> Result<FunctionClient> {
        Ok(FunctionClient::from_server(OperatorServer(op)))
    }
}

struct ValueServer(f64);

impl Value for ValueServer {
    async fn read(&self) -> Result<f64> {
        Ok(self.0)
    }
}

struct Defined {
    param_count: i32,
    body: Expression,
}

impl Function for Defined {
    async fn call(&self, params: Vec<f64>) -> Result<f64> {
        if params.len() != self.param_count as usize {
            return Err(Error::failed(format!(
                "expected {} parameters, found {}",
                self.param_count,
                params.len()
            )));
        }
        evaluate(self.body.clone(), Rc::new(params)).await
    }
}

struct OperatorServer(Operator);

impl Function for OperatorServer {
    async fn call(&self, params: Vec<f64>) -> Result<f64> {
        let [a, b] = params[..] else {
            return Err(Error::failed("an operator takes two parameters"));
        };
        Ok(match self.0 {
            Operator::Add => a + b,
            Operator::Subtract => a - b,
            Operator::Multiply => a * b,
            Operator::Divide => a / b,
        })
    }
}

/// A function the client hosts: the server calls back into it.
pub struct Power {
    pub calls: Rc<Cell<u32>>,
}

impl Function for Power {
    async fn call(&self, params: Vec<f64>) -> Result<f64> {
        self.calls.set(self.calls.get() + 1);
        Ok(params[0].powf(params[1]))
    }
}

pub fn call(function: &FunctionClient, params: Vec<Expression>) -> Expression {
    Expression::Call {
        function: function.clone(),
        params,
    }
}

fn check(what: &str, got: f64, expected: f64) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "{what}: expected {expected}, got {got}"
        )))
    }
}

/// Runs the checks of the calculator example's client against `calculator`: a literal,
/// operators, pipelined `previousResult`s, defined functions, and a callback into a function
/// hosted here; each is reported on `log` as it passes.
pub async fn run_client(calculator: &CalculatorClient, mut log: impl FnMut(&str)) -> Result<()> {
    use Expression::{Literal, Parameter, PreviousResult};

    // `evaluate` and `read` in one round trip: `read` is pipelined on the result.
    let value = calculator.evaluate(Literal(123.0)).value();
    check("literal", value.read().await?, 123.0)?;
    log("evaluating a literal: pass");

    // 123 + 45 - 67, with the operators themselves pipelined out of `get_operator`.
    let add = calculator.get_operator(Operator::Add).func();
    let subtract = calculator.get_operator(Operator::Subtract).func();
    let expression = call(
        &subtract,
        vec![
            call(&add, vec![Literal(123.0), Literal(45.0)]),
            Literal(67.0),
        ],
    );
    check(
        "add and subtract",
        calculator.evaluate(expression).value().read().await?,
        101.0,
    )?;
    log("using add and subtract: pass");

    // 4 * 6, passed back unresolved as `previousResult` to two more evaluations.
    let multiply = calculator.get_operator(Operator::Multiply).func();
    let product = calculator
        .evaluate(call(&multiply, vec![Literal(4.0), Literal(6.0)]))
        .value();
    let plus = |n: f64| {
        calculator
            .evaluate(call(
                &add,
                vec![PreviousResult(product.clone()), Literal(n)],
            ))
            .value()
    };
    let (plus3, plus5) = (plus(3.0), plus(5.0));
    check("(4 * 6) + 3", plus3.read().await?, 27.0)?;
    check("(4 * 6) + 5", plus5.read().await?, 29.0)?;
    log("pipelining eval() calls: pass");

    // f(x, y) = x * 100 + y; g(x) = f(x, x + 1) * 2.
    let f = calculator
        .def_function(
            2,
            call(
                &add,
                vec![
                    call(&multiply, vec![Parameter(0), Literal(100.0)]),
                    Parameter(1),
                ],
            ),
        )
        .func();
    let g = calculator
        .def_function(
            1,
            call(
                &multiply,
                vec![
                    call(
                        &f,
                        vec![Parameter(0), call(&add, vec![Parameter(0), Literal(1.0)])],
                    ),
                    Literal(2.0),
                ],
            ),
        )
        .func();
    let f_at = calculator
        .evaluate(call(&f, vec![Literal(12.0), Literal(34.0)]))
        .value();
    let g_at = calculator.evaluate(call(&g, vec![Literal(21.0)])).value();
    check("f(12, 34)", f_at.read().await?, 1234.0)?;
    check("g(21)", g_at.read().await?, 4244.0)?;
    log("defining functions: pass");

    // 2 ^ (4 + 5), with `pow` hosted here and called back by the server.
    let calls = Rc::new(Cell::new(0));
    let pow = FunctionClient::from_server(Power {
        calls: calls.clone(),
    });
    let expression = call(
        &pow,
        vec![Literal(2.0), call(&add, vec![Literal(4.0), Literal(5.0)])],
    );
    check(
        "2 ^ (4 + 5)",
        calculator.evaluate(expression).value().read().await?,
        512.0,
    )?;
    check("callbacks made", calls.get() as f64, 1.0)?;
    log("using a callback: pass");
    Ok(())
}
