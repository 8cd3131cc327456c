//! The `log` dataset: web server access log records.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::generate_vec;

/// Number of records in [`logs()`].
pub const LOGS: usize = 10_000;

/// An IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub x0: u8,
    pub x1: u8,
    pub x2: u8,
    pub x3: u8,
}

/// One access log record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    pub address: Address,
    pub identity: String,
    pub userid: String,
    pub date: String,
    pub request: String,
    pub code: u16,
    pub size: u64,
}

/// The whole dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logs {
    pub logs: Vec<Log>,
}

/// [`Log`] with its texts borrowed from the input (zero-copy deserialization).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBorrowed<'a> {
    pub address: Address,
    pub identity: &'a str,
    pub userid: &'a str,
    pub date: &'a str,
    pub request: &'a str,
    pub code: u16,
    pub size: u64,
}

/// [`Logs`] with its texts borrowed from the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsBorrowed<'a> {
    #[serde(borrow)]
    pub logs: Vec<LogBorrowed<'a>>,
}

const USERIDS: [&str; 9] = [
    "-", "alice", "bob", "carmen", "david", "eric", "frank", "george", "harry",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const TIMEZONES: [&str; 25] = [
    "-1200", "-1100", "-1000", "-0900", "-0800", "-0700", "-0600", "-0500", "-0400", "-0300",
    "-0200", "-0100", "+0000", "+0100", "+0200", "+0300", "+0400", "+0500", "+0600", "+0700",
    "+0800", "+0900", "+1000", "+1100", "+1200",
];

const CODES: [u16; 63] = [
    100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
    305, 306, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414,
    415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504,
    505, 506, 507, 508, 510, 511,
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "UPDATE", "DELETE"];

const ROUTES: [&str; 7] = [
    "/favicon.ico",
    "/css/index.css",
    "/css/font-awsome.min.css",
    "/img/logo-full.svg",
    "/img/splash.jpg",
    "/api/login",
    "/api/logout",
];

const PROTOCOLS: [&str; 4] = ["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"];

impl Address {
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        Address {
            x0: rng.gen_range(0..=255u8),
            x1: rng.gen_range(0..=255u8),
            x2: rng.gen_range(0..=255u8),
            x3: rng.gen_range(0..=255u8),
        }
    }
}

impl Log {
    /// Draws one record. The order matters: date, then request, then the address and the
    /// remaining fields. Date parts are `i32` draws, table indices `usize` draws.
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        let day = rng.gen_range(1..=28i32);
        let month = MONTHS[rng.gen_range(0..12usize)];
        let year = rng.gen_range(1970..=2021i32);
        let hour = rng.gen_range(0..24i32);
        let minute = rng.gen_range(0..60i32);
        let second = rng.gen_range(0..60i32);
        let zone = TIMEZONES[rng.gen_range(0..25usize)];
        // No zero padding: "3/Mar/1999:7:5:9 +0100".
        let date = format!("{day}/{month}/{year}:{hour}:{minute}:{second} {zone}");

        let method = METHODS[rng.gen_range(0..5usize)];
        let route = ROUTES[rng.gen_range(0..7usize)];
        let protocol = PROTOCOLS[rng.gen_range(0..4usize)];
        let request = format!("{method} {route} {protocol}");

        let address = Address::generate(rng);
        let userid = USERIDS[rng.gen_range(0..USERIDS.len())];
        let code = CODES[rng.gen_range(0..CODES.len())];
        let size = rng.gen_range(0..100_000_000u64);
        Log {
            address,
            identity: "-".to_owned(),
            userid: userid.to_owned(),
            date,
            request,
            code,
            size,
        }
    }

    pub fn borrowed(&self) -> LogBorrowed<'_> {
        LogBorrowed {
            address: self.address,
            identity: &self.identity,
            userid: &self.userid,
            date: &self.date,
            request: &self.request,
            code: self.code,
            size: self.size,
        }
    }
}

impl LogBorrowed<'_> {
    pub fn to_owned(&self) -> Log {
        Log {
            address: self.address,
            identity: self.identity.to_owned(),
            userid: self.userid.to_owned(),
            date: self.date.to_owned(),
            request: self.request.to_owned(),
            code: self.code,
            size: self.size,
        }
    }
}

impl Logs {
    /// `count` records drawn from `rng` (the count itself is drawn from `count..count + 1`).
    pub fn generate<R: Rng>(rng: &mut R, count: usize) -> Self {
        Logs {
            logs: generate_vec(rng, count..count + 1, Log::generate),
        }
    }

    pub fn borrowed(&self) -> LogsBorrowed<'_> {
        LogsBorrowed {
            logs: self.logs.iter().map(Log::borrowed).collect(),
        }
    }
}

impl LogsBorrowed<'_> {
    pub fn to_owned(&self) -> Logs {
        Logs {
            logs: self.logs.iter().map(LogBorrowed::to_owned).collect(),
        }
    }
}

/// The benchmark dataset: [`LOGS`] records from a fresh [`rng()`](super::rng).
pub fn logs() -> Logs {
    Logs::generate(&mut super::rng(), LOGS)
}
