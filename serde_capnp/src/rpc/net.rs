//! Two-party connections over tokio streams: TCP, Unix sockets, or any byte stream.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::io::{BufReader, BufWriter};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use super::cap::{Capability, FromCapability};
use super::client::DynamicClient;
use super::glue::{self, WireLimits};
use super::interface::InterfaceSchema;
use crate::{Error, ReadOptions, Result};

/// One two-party connection: the peer's bootstrap capability, and the state of the link.
///
/// The connection runs in a task of the current [`LocalSet`](tokio::task::LocalSet) until
/// either side closes it or the stream fails; calls made after that fail with a
/// `disconnected` error.
pub struct Connection {
    peer: Capability,
    closed: tokio::sync::watch::Receiver<Option<Closed>>,
    disconnect: RefCell<Option<glue::LocalFuture<()>>>,
}

/// How a connection ended.
#[derive(Clone, Debug)]
enum Closed {
    Cleanly,
    Failed(String),
}

/// Options of a connection: limits on what the peer's messages may cost to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    read: ReadOptions,
}

impl Options {
    /// Limits on each incoming message: traversal (in words) and nesting, as for any other
    /// message this crate reads. A message over them closes the connection.
    pub fn read_options(mut self, read: ReadOptions) -> Options {
        self.read = read;
        self
    }

    fn limits(&self) -> WireLimits {
        WireLimits {
            traversal_limit_in_words: self.read.traversal_limit_in_words,
            nesting_limit: self.read.nesting_limit,
        }
    }
}

/// Runs `future` on a new single-threaded tokio runtime inside a
/// [`LocalSet`](tokio::task::LocalSet), where connections and servers can run. For a program
/// whose whole work is RPC, this is its `main`.
pub fn run<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&runtime, future)
}

/// Connects to a server over TCP (with `TCP_NODELAY`). Must run inside a
/// [`LocalSet`](tokio::task::LocalSet) (see [`run`]).
pub async fn connect(address: impl tokio::net::ToSocketAddrs) -> Result<Connection> {
    connect_with(address, Options::default()).await
}

/// [`connect`] with options.
pub async fn connect_with(
    address: impl tokio::net::ToSocketAddrs,
    options: Options,
) -> Result<Connection> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    Ok(Connection::over(stream, None, false, options))
}

/// Connects to a server on a Unix socket. Must run inside a
/// [`LocalSet`](tokio::task::LocalSet) (see [`run`]).
#[cfg(unix)]
pub async fn connect_unix(path: impl AsRef<std::path::Path>) -> Result<Connection> {
    let stream = tokio::net::UnixStream::connect(path).await?;
    Ok(Connection::over(stream, None, false, Options::default()))
}

/// Serves `bootstrap` to every client that connects to `listener`, each connection in its
/// own task, until accepting fails. Must run inside a [`LocalSet`](tokio::task::LocalSet)
/// (see [`run`]). A connection that fails (garbage, a message over the limits, a peer gone)
/// closes alone; the others go on.
pub async fn serve(listener: tokio::net::TcpListener, bootstrap: Capability) -> Result<()> {
    serve_with(listener, bootstrap, Options::default()).await
}

/// [`serve`] with options.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    bootstrap: Capability,
    options: Options,
) -> Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Connection::over(stream, Some(bootstrap.clone()), true, options);
    }
}

/// Serves `bootstrap` on a Unix socket listener; see [`serve`].
#[cfg(unix)]
pub async fn serve_unix(listener: tokio::net::UnixListener, bootstrap: Capability) -> Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        Connection::over(stream, Some(bootstrap.clone()), true, Options::default());
    }
}

impl Connection {
    /// Runs the RPC protocol over `stream`, offering `bootstrap` to the peer. `is_server`
    /// only names the sides (the protocol is symmetric). Must run inside a
    /// [`LocalSet`](tokio::task::LocalSet).
    pub fn over<S>(
        stream: S,
        bootstrap: Option<Capability>,
        is_server: bool,
        options: Options,
    ) -> Connection
    where
        S: AsyncRead + AsyncWrite + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let failure: Rc<RefCell<Option<Error>>> = Rc::default();
        let noted = failure.clone();
        let parts = glue::two_party(
            BufReader::new(read.compat()),
            BufWriter::new(write.compat_write()),
            is_server,
            bootstrap.map(|c| c.hook),
            options.limits(),
            move |e| {
                noted.borrow_mut().get_or_insert(e);
            },
        );
        let (tx, closed) = tokio::sync::watch::channel(None);
        let system = parts.system;
        tokio::task::spawn_local(async move {
            let end = match system.await {
                Ok(()) => match failure.borrow_mut().take() {
                    Some(e) => Closed::Failed(e.to_string()),
                    None => Closed::Cleanly,
                },
                Err(e) => Closed::Failed(e.to_string()),
            };
            let _ = tx.send(Some(end));
        });
        Connection {
            peer: Capability { hook: parts.peer },
            closed,
            disconnect: RefCell::new(Some(parts.disconnect)),
        }
    }

    /// The peer's bootstrap capability, as the typed client `C` (or a [`Capability`]).
    pub fn bootstrap<C: FromCapability>(&self) -> C {
        C::from_capability(self.peer.clone())
    }

    /// The peer's bootstrap capability, called through `interface`.
    pub fn bootstrap_dynamic(&self, interface: &InterfaceSchema) -> DynamicClient {
        DynamicClient::new(self.peer.clone(), interface.clone())
    }

    /// Resolves when the connection has ended: `Ok` when it was closed cleanly, the reason
    /// otherwise (the peer went away, sent garbage, or the stream failed).
    pub async fn closed(&self) -> Result<()> {
        let mut rx = self.closed.clone();
        let end = match rx.wait_for(Option::is_some).await {
            Ok(end) => end.clone(),
            Err(_) => Some(Closed::Failed("the connection task was dropped".into())),
        };
        match end {
            Some(Closed::Failed(why)) => Err(Error::disconnected(why)),
            _ => Ok(()),
        }
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Closes the connection cleanly and waits until it is closed.
    pub async fn disconnect(&self) -> Result<()> {
        let disconnect = self.disconnect.borrow_mut().take();
        if let Some(d) = disconnect {
            d.await?;
        }
        Ok(())
    }
}
