//! The `interface` attribute macro end to end: the calculator of `schemas/calculator.capnp`
//! (the one of Cap'n Proto's and pycapnp's examples) served and called through traits over
//! loopback TCP, with promise pipelining, functions defined by the client, and a callback into
//! a `Function` the client hosts; then inheritance, a `-> stream` method and results with
//! several fields, from `tests/schemas/rpc_macro.capnp`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_capnp::rpc::{self, interface, Capability, DynamicClient, FromCapability};
use serde_capnp::{Category, Error, Result};

#[path = "../examples/common/calculator_typed.rs"]
#[allow(dead_code)]
mod calculator;

use calculator::*;

/// Runs `test` against `bootstrap` served on loopback TCP, within 30 s.
fn over_tcp<C, F, Fut>(bootstrap: impl FnOnce() -> Capability + 'static, test: F)
where
    C: FromCapability + 'static,
    F: FnOnce(C) -> Fut + 'static,
    Fut: Future<Output = Result<()>> + 'static,
{
    rpc::run(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::task::spawn_local(rpc::serve(listener, bootstrap()));
        let connection = rpc::connect(address).await?;
        let client: C = connection.bootstrap();
        let outcome = tokio::time::timeout(Duration::from_secs(30), test(client)).await;
        server.abort();
        outcome.map_err(|_| Error::failed("the test took over 30 s"))?
    })
    .unwrap();
}

#[test]
fn calculator_over_tcp() {
    over_tcp(
        || CalculatorClient::from_server(CalculatorServer).into_capability(),
        |calculator: CalculatorClient| async move {
            // A literal: evaluate, then read the `Value` it returns, pipelined.
            let value = calculator.evaluate(Expression::Literal(123.0)).value();
            assert_eq!(value.read().await?, 123.0);

            // Results fed back unawaited: (123 + 45) * 67, with `add`, `multiply` and the
            // sum all promises when the product is asked for.
            let add = calculator.get_operator(Operator::Add).func();
            let multiply = calculator.get_operator(Operator::Multiply).func();
            let sum = calculator
                .evaluate(call(
                    &add,
                    vec![Expression::Literal(123.0), Expression::Literal(45.0)],
                ))
                .value();
            let product = calculator
                .evaluate(call(
                    &multiply,
                    vec![Expression::PreviousResult(sum), Expression::Literal(67.0)],
                ))
                .value();
            assert_eq!(product.read().await?, 11256.0);

            // Awaiting a call gives its result: the client of the `Value`.
            let awaited: ValueClient = calculator.evaluate(Expression::Literal(2.5)).await?;
            assert_eq!(awaited.read().await?, 2.5);

            // Functions defined by the client: f(x, y) = x * 100 + y; g(x) = f(x, x + 1) * 2;
            // then f(12, 34) + g(21).
            let f = calculator
                .def_function(
                    2,
                    call(
                        &add,
                        vec![
                            call(
                                &multiply,
                                vec![Expression::Parameter(0), Expression::Literal(100.0)],
                            ),
                            Expression::Parameter(1),
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
                                vec![
                                    Expression::Parameter(0),
                                    call(
                                        &add,
                                        vec![Expression::Parameter(0), Expression::Literal(1.0)],
                                    ),
                                ],
                            ),
                            Expression::Literal(2.0),
                        ],
                    ),
                )
                .func();
            let total = calculator
                .evaluate(call(
                    &add,
                    vec![
                        call(
                            &f,
                            vec![Expression::Literal(12.0), Expression::Literal(34.0)],
                        ),
                        call(&g, vec![Expression::Literal(21.0)]),
                    ],
                ))
                .value();
            assert_eq!(total.read().await?, 5478.0);

            // A callback: the server calls `pow`, which this side hosts. 2^4 + 3.
            let calls = Rc::new(Cell::new(0));
            let pow = FunctionClient::from_server(Power {
                calls: calls.clone(),
            });
            let result = calculator
                .evaluate(call(
                    &add,
                    vec![
                        call(
                            &pow,
                            vec![Expression::Literal(2.0), Expression::Literal(4.0)],
                        ),
                        Expression::Literal(3.0),
                    ],
                ))
                .value();
            assert_eq!(result.read().await?, 19.0);
            assert_eq!(calls.get(), 1);

            // An error of the server's handler reaches the caller as `failed`.
            let wrong = calculator
                .evaluate(call(&f, vec![Expression::Literal(1.0)]))
                .value()
                .read()
                .await
                .unwrap_err();
            assert_eq!(wrong.category(), Category::Failed);
            assert!(
                wrong.message().contains("expected 2 parameters, found 1"),
                "{wrong}"
            );
            Ok(())
        },
    );
}

#[interface(schema = "tests/schemas/rpc_macro.capnp", name = "Shape")]
trait Shape {
    async fn area(&self) -> Result<f64>;
}

#[interface(schema = "tests/schemas/rpc_macro.capnp", name = "Square")]
trait Square: Shape {
    async fn side(&self) -> Result<f64>;
    async fn grow(&self, by: f64) -> Result<()>;
}

struct SquareServer {
    side: Cell<f64>,
}

impl Shape for SquareServer {
    async fn area(&self) -> Result<f64> {
        Ok(self.side.get() * self.side.get())
    }
}

impl Square for SquareServer {
    async fn side(&self) -> Result<f64> {
        Ok(self.side.get())
    }

    async fn grow(&self, by: f64) -> Result<()> {
        self.side.set(self.side.get() + by);
        Ok(())
    }
}

#[test]
fn extends_serves_and_calls_the_base_interface() {
    rpc::run(async {
        let square = SquareClient::from_server(SquareServer {
            side: Cell::new(3.0),
        });
        assert_eq!(square.side().await?, 3.0);
        // `Shape`'s methods, through `Deref` to the `ShapeClient`.
        assert_eq!(square.area().await?, 9.0);
        square.grow(1.0).await?;
        let shape: ShapeClient = square.clone().into();
        assert_eq!(shape.area().await?, 16.0);
        assert_eq!(AsRef::<ShapeClient>::as_ref(&square).area().await?, 16.0);

        // A method the traits leave out (`Shape.name`) answers `unimplemented`.
        let schema = serde_capnp::include_schema!("tests/schemas/rpc_macro.capnp")?;
        let dynamic = DynamicClient::new(square.into_capability(), schema.interface("Square")?);
        let e = dynamic
            .call("name", &serde_json::json!({}))
            .await
            .err()
            .expect("`name` is not implemented");
        assert_eq!(e.category(), Category::Unimplemented, "{e}");
        Ok(())
    })
    .unwrap();
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Totals {
    bytes: u64,
    chunks: u32,
}

#[interface(schema = "tests/schemas/rpc_macro.capnp", name = "Sink")]
trait Sink {
    async fn write(&self, chunk: serde_bytes::ByteBuf) -> Result<()>;
    async fn total(&self) -> Result<Totals>;
}

#[derive(Default)]
struct Counter {
    bytes: Cell<u64>,
    chunks: Cell<u32>,
}

impl Sink for Counter {
    async fn write(&self, chunk: serde_bytes::ByteBuf) -> Result<()> {
        self.bytes.set(self.bytes.get() + chunk.len() as u64);
        self.chunks.set(self.chunks.get() + 1);
        Ok(())
    }

    async fn total(&self) -> Result<Totals> {
        Ok(Totals {
            bytes: self.bytes.get(),
            chunks: self.chunks.get(),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Opened {
    sink: SinkClient,
    label: String,
}

#[interface(schema = "tests/schemas/rpc_macro.capnp", name = "Store")]
trait Store {
    async fn open(&self, label: String) -> Result<Opened>;
}

struct StoreServer {
    opened: RefCell<Vec<String>>,
}

impl Store for StoreServer {
    async fn open(&self, label: String) -> Result<Opened> {
        self.opened.borrow_mut().push(label.clone());
        Ok(Opened {
            sink: SinkClient::from_server(Counter::default()),
            label: label.to_uppercase(),
        })
    }
}

#[test]
fn streams_and_several_results_over_tcp() {
    over_tcp(
        || {
            StoreClient::from_server(StoreServer {
                opened: RefCell::new(Vec::new()),
            })
            .into_capability()
        },
        |store: StoreClient| async move {
            // The sink is pipelined out of `open`'s results, and written to at once.
            let sink: SinkClient = store.open("logs".into()).sink();
            for _ in 0..200 {
                sink.write(serde_bytes::ByteBuf::from(vec![7u8; 1024]))
                    .await?;
            }
            assert_eq!(
                sink.total().await?,
                Totals {
                    bytes: 200 * 1024,
                    chunks: 200
                }
            );
            let opened = store.open("more".into()).await?;
            assert_eq!(opened.label, "MORE");
            assert_eq!(opened.sink.total().await?.chunks, 0);
            Ok(())
        },
    );
}

/// An error type of the server's own, which converts into `Error`.
#[derive(Debug)]
struct Negative(f64);

impl From<Negative> for Error {
    fn from(e: Negative) -> Error {
        Error::failed(format!("{} is negative", e.0))
    }
}

#[interface(schema = "schemas/calculator.capnp", name = "Calculator.Function")]
trait SquareRoot {
    async fn call(&self, params: Vec<f64>) -> std::result::Result<f64, Negative>;
}

struct Sqrt;

impl SquareRoot for Sqrt {
    async fn call(&self, params: Vec<f64>) -> std::result::Result<f64, Negative> {
        match params.first() {
            Some(&x) if x < 0.0 => Err(Negative(x)),
            Some(&x) => Ok(x.sqrt()),
            None => Ok(0.0),
        }
    }
}

#[test]
fn a_handler_error_of_another_type_becomes_failed() {
    rpc::run(async {
        let sqrt = SquareRootClient::from_server(Sqrt);
        assert_eq!(sqrt.call(vec![9.0]).await?, 3.0);
        // The same capability through the calculator's own client of `Function`.
        let function: FunctionClient = sqrt.clone().into_capability().cast();
        let e = function.call(vec![-4.0]).await.unwrap_err();
        assert_eq!(e.category(), Category::Failed);
        assert!(e.message().contains("-4 is negative"), "{e}");
        Ok(())
    })
    .unwrap();
}
