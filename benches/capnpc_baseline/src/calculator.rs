//! The calculator of `schemas/calculator.capnp` on capnpc-generated code and capnp-rpc: a server
//! and the checks of the calculator example's client, for the interop tests.

use capnp::capability::Promise;
use capnp::Error;
use capnp_rpc::pry;
use futures::future::try_join_all;

use crate::calculator_capnp::calculator::{self, expression, function, value};

/// An expression owned by Rust code: read out of a message once, so that a function body can be
/// evaluated again after the call that defined it has returned (and so that writing one into a
/// request is a plain recursion).
#[derive(Clone)]
pub enum Expr {
    /// A number.
    Literal(f64),
    /// The value of a `Value` object (a result of `evaluate`, possibly not resolved yet).
    Previous(value::Client),
    /// A parameter of the function whose body this is.
    Parameter(u32),
    /// A function applied to arguments.
    Call(function::Client, Vec<Expr>),
}

impl Expr {
    /// Reads an expression out of a message.
    pub fn read(reader: expression::Reader<'_>) -> Result<Expr, Error> {
        Ok(match reader.which()? {
            expression::Literal(v) => Expr::Literal(v),
            expression::PreviousResult(v) => Expr::Previous(v?),
            expression::Parameter(i) => Expr::Parameter(i),
            expression::Call(call) => {
                let args = call.get_params()?;
                let mut params = Vec::with_capacity(args.len() as usize);
                for arg in args.iter() {
                    params.push(Expr::read(arg)?);
                }
                Expr::Call(call.get_function()?, params)
            }
        })
    }

    /// Writes the expression into a message.
    pub fn write(&self, mut builder: expression::Builder<'_>) {
        match self {
            Expr::Literal(v) => builder.set_literal(*v),
            Expr::Previous(v) => builder.set_previous_result(v.clone()),
            Expr::Parameter(i) => builder.set_parameter(*i),
            Expr::Call(function, args) => {
                let mut call = builder.init_call();
                call.set_function(function.clone());
                let mut params = call.init_params(args.len() as u32);
                for (i, arg) in args.iter().enumerate() {
                    arg.write(params.reborrow().get(i as u32));
                }
            }
        }
    }

    /// Evaluates the expression, whose parameters are `params`.
    pub fn evaluate(&self, params: &[f64]) -> Promise<f64, Error> {
        match self {
            Expr::Literal(v) => Promise::ok(*v),
            Expr::Previous(value) => {
                let request = value.read_request();
                Promise::from_future(
                    async move { Ok(request.send().promise.await?.get()?.get_value()) },
                )
            }
            Expr::Parameter(i) => match params.get(*i as usize) {
                Some(v) => Promise::ok(*v),
                None => Promise::err(Error::failed(format!(
                    "parameter {i} is out of range ({} given)",
                    params.len()
                ))),
            },
            Expr::Call(function, args) => {
                let args: Vec<_> = args.iter().map(|a| a.evaluate(params)).collect();
                let function = function.clone();
                Promise::from_future(async move {
                    let values = try_join_all(args).await?;
                    let mut request = function.call_request();
                    request.get().set_params(&values[..])?;
                    Ok(request.send().promise.await?.get()?.get_value())
                })
            }
        }
    }
}

/// The calculator's bootstrap object.
pub struct CalculatorImpl;

impl calculator::Server for CalculatorImpl {
    fn evaluate(
        self: capnp::capability::Rc<Self>,
        params: calculator::EvaluateParams,
        mut results: calculator::EvaluateResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let expression = pry!(Expr::read(pry!(pry!(params.get()).get_expression())));
        let value = expression.evaluate(&[]);
        Promise::from_future(async move {
            let value = value.await?;
            results
                .get()
                .set_value(capnp_rpc::new_client(ValueImpl { value }));
            Ok(())
        })
    }

    fn def_function(
        self: capnp::capability::Rc<Self>,
        params: calculator::DefFunctionParams,
        mut results: calculator::DefFunctionResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let params = pry!(params.get());
        let body = pry!(Expr::read(pry!(params.get_body())));
        results.get().set_func(capnp_rpc::new_client(FunctionImpl {
            param_count: params.get_param_count(),
            body,
        }));
        Promise::ok(())
    }

    fn get_operator(
        self: capnp::capability::Rc<Self>,
        params: calculator::GetOperatorParams,
        mut results: calculator::GetOperatorResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let op = pry!(pry!(params.get()).get_op());
        results
            .get()
            .set_func(capnp_rpc::new_client(OperatorImpl { op }));
        Promise::ok(())
    }
}

/// The result of an evaluation.
struct ValueImpl {
    value: f64,
}

impl value::Server for ValueImpl {
    fn read(
        self: capnp::capability::Rc<Self>,
        _: value::ReadParams,
        mut results: value::ReadResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        results.get().set_value(self.value);
        Promise::ok(())
    }
}

/// A function defined by `defFunction`.
struct FunctionImpl {
    param_count: i32,
    body: Expr,
}

impl function::Server for FunctionImpl {
    fn call(
        self: capnp::capability::Rc<Self>,
        params: function::CallParams,
        mut results: function::CallResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let args = pry!(pry!(params.get()).get_params());
        if args.len() as i64 != i64::from(self.param_count) {
            return Promise::err(Error::failed(format!(
                "wrong number of parameters: expected {}, got {}",
                self.param_count,
                args.len()
            )));
        }
        let args: Vec<f64> = args.iter().collect();
        let value = self.body.evaluate(&args);
        Promise::from_future(async move {
            results.get().set_value(value.await?);
            Ok(())
        })
    }
}

/// One of the four operators.
struct OperatorImpl {
    op: calculator::Operator,
}

impl function::Server for OperatorImpl {
    fn call(
        self: capnp::capability::Rc<Self>,
        params: function::CallParams,
        mut results: function::CallResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let args = pry!(pry!(params.get()).get_params());
        if args.len() != 2 {
            return Promise::err(Error::failed(format!(
                "an operator takes 2 parameters, got {}",
                args.len()
            )));
        }
        let (a, b) = (args.get(0), args.get(1));
        results.get().set_value(match self.op {
            calculator::Operator::Add => a + b,
            calculator::Operator::Subtract => a - b,
            calculator::Operator::Multiply => a * b,
            calculator::Operator::Divide => a / b,
        });
        Promise::ok(())
    }
}

/// A function served by the client and called back by the calculator: `pow(a, b)`.
struct PowImpl;

impl function::Server for PowImpl {
    fn call(
        self: capnp::capability::Rc<Self>,
        params: function::CallParams,
        mut results: function::CallResults,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        let args = pry!(pry!(params.get()).get_params());
        if args.len() != 2 {
            return Promise::err(Error::failed("pow takes 2 parameters".into()));
        }
        results.get().set_value(args.get(0).powf(args.get(1)));
        Promise::ok(())
    }
}

fn check(what: &str, got: f64, expected: f64) -> Result<(), Error> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "{what}: expected {expected}, got {got}"
        )))
    }
}

async fn read(value: value::Client) -> Result<f64, Error> {
    Ok(value
        .read_request()
        .send()
        .promise
        .await?
        .get()?
        .get_value())
}

/// The `Value` that evaluating `expression` on `calc` will give, before it is known.
fn evaluate(calc: &calculator::Client, expression: &Expr) -> value::Client {
    let mut request = calc.evaluate_request();
    expression.write(request.get().init_expression());
    request.send().pipeline.get_value()
}

fn operator(calc: &calculator::Client, op: calculator::Operator) -> function::Client {
    let mut request = calc.get_operator_request();
    request.get().set_op(op);
    request.send().pipeline.get_func()
}

fn def_function(calc: &calculator::Client, param_count: i32, body: &Expr) -> function::Client {
    let mut request = calc.def_function_request();
    let mut params = request.get();
    params.set_param_count(param_count);
    body.write(params.init_body());
    request.send().pipeline.get_func()
}

/// Runs the checks of the calculator example's client against `calc`: a literal, operators,
/// pipelined `previousResult`s, defined functions, and a callback into a function hosted here.
/// Every call is pipelined on the results it depends on, so each check costs one round trip.
/// Each check is reported on `log`.
pub async fn run_client(calc: calculator::Client, mut log: impl FnMut(&str)) -> Result<(), Error> {
    use calculator::Operator;
    use Expr::{Literal, Parameter, Previous};
    let call = |function: &function::Client, args: Vec<Expr>| Expr::Call(function.clone(), args);

    check(
        "literal",
        read(evaluate(&calc, &Literal(123.0))).await?,
        123.0,
    )?;
    log("evaluating a literal: pass");

    let add = operator(&calc, Operator::Add);
    let subtract = operator(&calc, Operator::Subtract);
    let expression = call(
        &subtract,
        vec![
            call(&add, vec![Literal(123.0), Literal(45.0)]),
            Literal(67.0),
        ],
    );
    check(
        "add and subtract",
        read(evaluate(&calc, &expression)).await?,
        101.0,
    )?;
    log("using add and subtract: pass");

    let multiply = operator(&calc, Operator::Multiply);
    let product = evaluate(&calc, &call(&multiply, vec![Literal(4.0), Literal(6.0)]));
    let plus = |n: f64| {
        evaluate(
            &calc,
            &call(&add, vec![Previous(product.clone()), Literal(n)]),
        )
    };
    let (plus3, plus5) = (plus(3.0), plus(5.0));
    check("pipelined (4 * 6) + 3", read(plus3).await?, 27.0)?;
    check("pipelined (4 * 6) + 5", read(plus5).await?, 29.0)?;
    log("pipelining eval() calls: pass");

    // f(x, y) = x * 100 + y; g(x) = f(x, x + 1) * 2.
    let f = def_function(
        &calc,
        2,
        &call(
            &add,
            vec![
                call(&multiply, vec![Parameter(0), Literal(100.0)]),
                Parameter(1),
            ],
        ),
    );
    let g = def_function(
        &calc,
        1,
        &call(
            &multiply,
            vec![
                call(
                    &f,
                    vec![Parameter(0), call(&add, vec![Parameter(0), Literal(1.0)])],
                ),
                Literal(2.0),
            ],
        ),
    );
    let f_value = evaluate(&calc, &call(&f, vec![Literal(12.0), Literal(34.0)]));
    let g_value = evaluate(&calc, &call(&g, vec![Literal(21.0)]));
    check("f(12, 34)", read(f_value).await?, 1234.0)?;
    check("g(21)", read(g_value).await?, 4244.0)?;
    log("defining functions: pass");

    // 2 ^ (4 + 5), with `pow` served here and called back by the calculator.
    let pow: function::Client = capnp_rpc::new_client(PowImpl);
    let expression = call(
        &pow,
        vec![Literal(2.0), call(&add, vec![Literal(4.0), Literal(5.0)])],
    );
    check(
        "callback 2 ^ (4 + 5)",
        read(evaluate(&calc, &expression)).await?,
        512.0,
    )?;
    log("using a callback: pass");
    Ok(())
}
