//! The calculator of `schemas/calculator.capnp`, served and called through the dynamic RPC
//! API: shared by the `calculator_server` and `calculator_client` examples and the tests.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_capnp::rpc::{Capability, DynamicClient, InterfaceSchema, Server};
use serde_capnp::{Error, Result, Schema};

/// `Calculator.Expression`: a Rust enum maps onto the struct's unnamed union.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub enum Expression {
    Literal(f64),
    PreviousResult(Capability),
    Parameter(u32),
    Call {
        function: Capability,
        params: Vec<Expression>,
    },
}

#[derive(Serialize, Deserialize)]
pub struct Evaluate {
    pub expression: Expression,
}

#[derive(Serialize, Deserialize)]
pub struct ValueResult {
    pub value: Capability,
}

#[derive(Serialize, Deserialize)]
pub struct Number {
    pub value: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefFunction {
    pub param_count: i32,
    pub body: Expression,
}

#[derive(Serialize, Deserialize)]
pub struct FunctionResult {
    pub func: Capability,
}

#[derive(Serialize, Deserialize)]
pub struct CallParams {
    pub params: Vec<f64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
#[serde(rename_all = "camelCase")]
pub enum Operator {
    Add,
    Subtract,
    Multiply,
    Divide,
}

#[derive(Serialize, Deserialize)]
pub struct GetOperator {
    pub op: Operator,
}

/// The three interfaces of the calculator schema.
#[derive(Clone)]
pub struct Interfaces {
    pub calculator: InterfaceSchema,
    pub value: InterfaceSchema,
    pub function: InterfaceSchema,
}

impl Interfaces {
    /// Loads them from the compiled schema bundled with the crate.
    pub fn load() -> Result<Interfaces> {
        let bytes = include_bytes!("../../schemas/compiled/calculator.bin");
        let schema = Schema::from_code_generator_request(bytes)?;
        Ok(Interfaces {
            calculator: schema.interface("Calculator")?,
            value: schema.interface("Calculator.Value")?,
            function: schema.interface("Calculator.Function")?,
        })
    }
}

/// The calculator's bootstrap capability.
pub fn calculator(ifaces: &Interfaces) -> Result<Capability> {
    let for_evaluate = ifaces.clone();
    let for_def = ifaces.clone();
    let for_op = ifaces.clone();
    Ok(Server::new(&ifaces.calculator)
        .method("evaluate", move |call| {
            let ifaces = for_evaluate.clone();
            async move {
                let Evaluate { expression } = call.params()?;
                let value = evaluate(&ifaces, expression, &[]).await?;
                call.reply(&ValueResult {
                    value: value_object(&ifaces, value)?,
                })
            }
        })?
        .method("defFunction", move |call| {
            let ifaces = for_def.clone();
            async move {
                let DefFunction { param_count, body } = call.params()?;
                let func = defined_function(&ifaces, param_count, body)?;
                call.reply(&FunctionResult { func })
            }
        })?
        .method("getOperator", move |call| {
            let ifaces = for_op.clone();
            async move {
                let GetOperator { op } = call.params()?;
                call.reply(&FunctionResult {
                    func: operator(&ifaces, op)?,
                })
            }
        })?
        .into_capability())
}

/// Evaluates `expression`, whose `parameter`s index `params`.
pub fn evaluate<'a>(
    ifaces: &'a Interfaces,
    expression: Expression,
    params: &'a [f64],
) -> Pin<Box<dyn Future<Output = Result<f64>> + 'a>> {
    Box::pin(async move {
        match expression {
            Expression::Literal(v) => Ok(v),
            Expression::PreviousResult(value) => {
                let value = DynamicClient::new(value, ifaces.value.clone());
                let Number { value } = value.call("read", &()).await?.get()?;
                Ok(value)
            }
            Expression::Parameter(i) => params.get(i as usize).copied().ok_or_else(|| {
                Error::failed(format!(
                    "parameter {i} is out of range ({} given)",
                    params.len()
                ))
            }),
            Expression::Call {
                function,
                params: args,
            } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(evaluate(ifaces, arg, params).await?);
                }
                let function = DynamicClient::new(function, ifaces.function.clone());
                let Number { value } = function
                    .call("call", &CallParams { params: values })
                    .await?
                    .get()?;
                Ok(value)
            }
        }
    })
}

/// A `Value` object holding `value`.
pub fn value_object(ifaces: &Interfaces, value: f64) -> Result<Capability> {
    Ok(Server::new(&ifaces.value)
        .method(
            "read",
            move |call| async move { call.reply(&Number { value }) },
        )?
        .into_capability())
}

fn defined_function(ifaces: &Interfaces, param_count: i32, body: Expression) -> Result<Capability> {
    let ifaces2 = ifaces.clone();
    Ok(Server::new(&ifaces.function)
        .method("call", move |call| {
            let ifaces = ifaces2.clone();
            let body = body.clone();
            async move {
                let CallParams { params } = call.params()?;
                if params.len() as i64 != param_count as i64 {
                    return Err(Error::failed(format!(
                        "wrong number of parameters: expected {param_count}, got {}",
                        params.len()
                    )));
                }
                let value = evaluate(&ifaces, body, &params).await?;
                call.reply(&Number { value })
            }
        })?
        .into_capability())
}

fn operator(ifaces: &Interfaces, op: Operator) -> Result<Capability> {
    Ok(Server::new(&ifaces.function)
        .method("call", move |call| async move {
            let CallParams { params } = call.params()?;
            let [a, b] = params[..] else {
                return Err(Error::failed(format!(
                    "an operator takes 2 parameters, got {}",
                    params.len()
                )));
            };
            let value = match op {
                Operator::Add => a + b,
                Operator::Subtract => a - b,
                Operator::Multiply => a * b,
                Operator::Divide => a / b,
            };
            call.reply(&Number { value })
        })?
        .into_capability())
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
/// hosted here. Each check is reported on `log`.
pub async fn run_client(
    ifaces: &Interfaces,
    calculator: Capability,
    mut log: impl FnMut(&str),
) -> Result<()> {
    let calc = DynamicClient::new(calculator, ifaces.calculator.clone());
    let read = |value: Capability| {
        let value = DynamicClient::new(value, ifaces.value.clone());
        async move {
            let Number { value } = value.call("read", &()).await?.get()?;
            Ok::<f64, Error>(value)
        }
    };
    let op = |op: Operator| {
        calc.call("getOperator", &GetOperator { op })
            .pipeline("func")
    };
    let call = |function: &Capability, params: Vec<Expression>| Expression::Call {
        function: function.clone(),
        params,
    };
    use Expression::{Literal, Parameter, PreviousResult};

    // The literal: `evaluate` and `read` in one round trip, `read` pipelined on the result.
    let eval = calc.call(
        "evaluate",
        &Evaluate {
            expression: Literal(123.0),
        },
    );
    check("literal", read(eval.pipeline("value")).await?, 123.0)?;
    log("evaluating a literal: pass");

    // 123 + 45 - 67, with the operators pipelined from `getOperator`.
    let (add, subtract) = (op(Operator::Add), op(Operator::Subtract));
    let expression = call(
        &subtract,
        vec![
            call(&add, vec![Literal(123.0), Literal(45.0)]),
            Literal(67.0),
        ],
    );
    let eval = calc.call("evaluate", &Evaluate { expression });
    check(
        "add and subtract",
        read(eval.pipeline("value")).await?,
        101.0,
    )?;
    log("using add and subtract: pass");

    // 4 * 6, passed back unresolved as `previousResult` to two more evaluations.
    let multiply = op(Operator::Multiply);
    let product = calc
        .call(
            "evaluate",
            &Evaluate {
                expression: call(&multiply, vec![Literal(4.0), Literal(6.0)]),
            },
        )
        .pipeline("value");
    let plus = |n: f64| {
        calc.call(
            "evaluate",
            &Evaluate {
                expression: call(&add, vec![PreviousResult(product.clone()), Literal(n)]),
            },
        )
        .pipeline("value")
    };
    let (plus3, plus5) = (plus(3.0), plus(5.0));
    check("pipelined (4 * 6) + 3", read(plus3).await?, 27.0)?;
    check("pipelined (4 * 6) + 5", read(plus5).await?, 29.0)?;
    log("pipelining eval() calls: pass");

    // f(x, y) = x * 100 + y; g(x) = f(x, x + 1) * 2.
    let f = calc
        .call(
            "defFunction",
            &DefFunction {
                param_count: 2,
                body: call(
                    &add,
                    vec![
                        call(&multiply, vec![Parameter(0), Literal(100.0)]),
                        Parameter(1),
                    ],
                ),
            },
        )
        .pipeline("func");
    let g = calc
        .call(
            "defFunction",
            &DefFunction {
                param_count: 1,
                body: call(
                    &multiply,
                    vec![
                        call(
                            &f,
                            vec![Parameter(0), call(&add, vec![Parameter(0), Literal(1.0)])],
                        ),
                        Literal(2.0),
                    ],
                ),
            },
        )
        .pipeline("func");
    let at = |func: &Capability, args: Vec<Expression>| {
        calc.call(
            "evaluate",
            &Evaluate {
                expression: call(func, args),
            },
        )
        .pipeline("value")
    };
    check(
        "f(12, 34)",
        read(at(&f, vec![Literal(12.0), Literal(34.0)])).await?,
        1234.0,
    )?;
    check("g(21)", read(at(&g, vec![Literal(21.0)])).await?, 4244.0)?;
    log("defining functions: pass");

    // 2 ^ (4 + 5), with `pow` a function served here and called back by the server.
    let pow = Server::new(&ifaces.function)
        .method("call", |call| async move {
            let CallParams { params } = call.params()?;
            let [a, b] = params[..] else {
                return Err(Error::failed("pow takes 2 parameters"));
            };
            call.reply(&Number { value: a.powf(b) })
        })?
        .into_capability();
    let expression = call(
        &pow,
        vec![Literal(2.0), call(&add, vec![Literal(4.0), Literal(5.0)])],
    );
    let eval = calc.call("evaluate", &Evaluate { expression });
    check(
        "callback 2 ^ (4 + 5)",
        read(eval.pipeline("value")).await?,
        512.0,
    )?;
    log("using a callback: pass");
    Ok(())
}
