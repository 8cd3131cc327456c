//! Framing: segment tables that lie about their size, truncated streams, streams of several
//! messages, packed streams and their limits, and the hints given for input in another format.

use std::io::Read;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_capnp::framing::{self, Format};
use serde_capnp::{Category, Error, ReadOptions, Schema, StructSchema};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Point {
    x: f64,
    y: f64,
    label: String,
}

fn point_type() -> StructSchema {
    Schema::parse(
        "point.capnp",
        "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Float64; y @1 :Float64; label @2 :Text; }\n",
    )
    .unwrap()
    .struct_type("Point")
    .unwrap()
}

fn point(i: u32) -> Point {
    Point {
        x: f64::from(i) + 0.5,
        y: -f64::from(i),
        label: format!("point {i}"),
    }
}

/// A segment table claiming one segment of 0xf600001d words (33 GB), and nothing else.
const HOSTILE: [u8; 8] = [0, 0, 0, 0, 0x1d, 0, 0, 0xf6];

/// The traversal limit lifted as far as a segment table can reach.
fn lifted() -> ReadOptions {
    ReadOptions {
        traversal_limit_in_words: 1 << 40,
        ..ReadOptions::default()
    }
}

// -------------------------------------------------------------------------------------------
// Tables that claim more than is sent
// -------------------------------------------------------------------------------------------

#[test]
fn a_header_claiming_33_gb_is_refused_by_every_reader() {
    let st = point_type();
    let claim = "message claims 4127195165 words, more than the traversal limit of 8388608 words";
    let errors = [
        st.from_reader::<_, Point>(&HOSTILE[..]).unwrap_err(),
        st.iter_from_reader::<_, Point>(&HOSTILE[..])
            .next()
            .unwrap()
            .unwrap_err(),
        framing::read_message(&HOSTILE[..], &ReadOptions::default()).unwrap_err(),
        framing::split_message(&HOSTILE, &ReadOptions::default()).unwrap_err(),
    ];
    for err in &errors {
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        assert_eq!(err.message(), claim);
    }

    // With the limit lifted, the claim is only found out when the bytes run out.
    let st = st.with_read_options(lifted());
    let err = st.from_reader::<_, Point>(&HOSTILE[..]).unwrap_err();
    assert_eq!(
        (err.category(), err.message()),
        (Category::Wire, "message is truncated")
    );
    let err = framing::read_message(&HOSTILE[..], &lifted()).unwrap_err();
    assert_eq!(err.message(), "message is truncated");

    // Read as packed, the eight bytes are an empty table, another, and a word cut short: the
    // first message has no root pointer. They do not look packed, but not like anything else
    // either (the reference says as much).
    for st in [point_type(), st] {
        let errors = [
            st.from_reader_packed::<_, Point>(&HOSTILE[..]).unwrap_err(),
            st.from_slice_packed::<Point>(&HOSTILE).unwrap_err(),
            st.iter_from_reader_packed::<_, Point>(&HOSTILE[..])
                .next()
                .unwrap()
                .unwrap_err(),
        ];
        for err in &errors {
            assert_eq!(err.message(), "message has no root pointer");
        }
    }
}

#[test]
fn segment_tables_are_checked_before_anything_is_read() {
    let many = {
        let mut b = 511u32.to_le_bytes().to_vec();
        b.extend(std::iter::repeat_n(u32::MAX.to_le_bytes(), 512).flatten());
        b.extend_from_slice(&[0; 4]);
        b
    };
    let cases: [(&[u8], Category, &str); 4] = [
        (
            &[0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0],
            Category::Limit,
            "message claims 4294967296 segments, more than the limit of 512",
        ),
        (
            &[0, 2, 0, 0, 1, 0, 0, 0],
            Category::Limit,
            "message claims 513 segments, more than the limit of 512",
        ),
        (
            &many,
            Category::Limit,
            "message claims 2199023255040 words, more than the traversal limit of 1099511627776 \
             words",
        ),
        // The table itself cut short.
        (&many[..100], Category::Wire, "message is truncated"),
    ];
    let st = point_type().with_read_options(lifted());
    for (bytes, category, message) in cases {
        for err in [
            st.from_reader::<_, Point>(bytes).unwrap_err(),
            framing::split_message(bytes, &lifted()).unwrap_err(),
        ] {
            assert_eq!((err.category(), err.message()), (category, message));
        }
    }
}

// -------------------------------------------------------------------------------------------
// Truncation
// -------------------------------------------------------------------------------------------

#[test]
fn every_prefix_of_a_message_says_it_is_truncated() {
    let st = point_type();
    let bytes = st.to_vec(&point(1)).unwrap();
    let empty = "message is empty";
    let truncated = "message is truncated";
    for len in 0..bytes.len() {
        let prefix = &bytes[..len];
        let want = if len == 0 { empty } else { truncated };
        let mut errors = vec![
            st.from_reader::<_, Point>(prefix).unwrap_err(),
            st.from_slice::<Point>(prefix).unwrap_err(),
            framing::split_message(prefix, &ReadOptions::default()).unwrap_err(),
        ];
        if len > 0 {
            let mut stream = st.iter_from_reader::<_, Point>(prefix);
            errors.push(stream.next().unwrap().unwrap_err());
            assert!(stream.next().is_none());
        }
        for err in &errors {
            assert_eq!(err.message(), want, "prefix of {len} bytes: {err:?}");
        }
        // A stream that ends mid-message is bad data; one that ends before a message is an
        // I/O condition the caller can test for.
        let err = st.from_reader::<_, Point>(prefix).unwrap_err();
        let kind = std::io::Error::from(err).kind();
        let want_kind = if len == 0 {
            std::io::ErrorKind::UnexpectedEof
        } else {
            std::io::ErrorKind::InvalidData
        };
        assert_eq!(kind, want_kind, "prefix of {len} bytes");
    }
}

#[test]
fn every_prefix_of_a_packed_message_says_it_is_truncated() {
    let st = point_type();
    let packed = st.to_vec_packed(&point(2)).unwrap();
    assert!(packed.len() > 20);
    for len in 1..packed.len() {
        let prefix = &packed[..len];
        let errors = [
            st.from_reader_packed::<_, Point>(prefix).unwrap_err(),
            st.from_slice_packed::<Point>(prefix).unwrap_err(),
            st.iter_from_reader_packed::<_, Point>(prefix)
                .next()
                .unwrap()
                .unwrap_err(),
            framing::read_packed_message(prefix, &ReadOptions::default()).unwrap_err(),
        ];
        for err in &errors {
            assert_eq!(
                err.message(),
                "message is truncated",
                "prefix of {len}: {err:?}"
            );
            assert_eq!(err.category(), Category::Wire);
        }
    }
    assert!(st
        .iter_from_reader_packed::<_, Point>(&[][..])
        .next()
        .is_none());
    let err = st.from_reader_packed::<_, Point>(&[][..]).unwrap_err();
    assert_eq!(err.message(), "message is empty");
}

#[test]
fn a_stream_cut_inside_its_third_message_gives_two_values_then_the_error() {
    let st = point_type();
    let stream: Vec<u8> = (0..3).flat_map(|i| st.to_vec(&point(i)).unwrap()).collect();
    let cut = &stream[..stream.len() - 3];
    let read: Vec<_> = st.iter_from_reader::<_, Point>(cut).collect();
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].as_ref().unwrap(), &point(0));
    assert_eq!(read[1].as_ref().unwrap(), &point(1));
    assert_eq!(
        read[2].as_ref().unwrap_err().message(),
        "message is truncated"
    );
}

// -------------------------------------------------------------------------------------------
// Streams
// -------------------------------------------------------------------------------------------

#[test]
fn streams_of_messages_are_read_one_at_a_time_without_reading_ahead() {
    let st = point_type();
    let points: Vec<Point> = (0..5).map(point).collect();
    let binary: Vec<u8> = points.iter().flat_map(|p| st.to_vec(p).unwrap()).collect();
    let packed: Vec<u8> = points
        .iter()
        .flat_map(|p| st.to_vec_packed(p).unwrap())
        .collect();

    let read: Vec<Point> = st
        .iter_from_reader(&binary[..])
        .collect::<serde_capnp::Result<_>>()
        .unwrap();
    assert_eq!(read, points);
    let read: Vec<Point> = st
        .iter_from_reader_packed(&packed[..])
        .collect::<serde_capnp::Result<_>>()
        .unwrap();
    assert_eq!(read, points);

    // Message by message from one reader, with what follows left in it.
    let mut rest = &binary[..];
    for p in &points {
        assert_eq!(&st.from_reader::<_, Point>(&mut rest).unwrap(), p);
    }
    assert!(rest.is_empty());
    let mut rest = &packed[..];
    for p in &points {
        assert_eq!(&st.from_reader_packed::<_, Point>(&mut rest).unwrap(), p);
    }
    assert!(rest.is_empty());

    // A reader that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let read: Vec<Point> = st
        .iter_from_reader(Trickle(&binary))
        .collect::<serde_capnp::Result<_>>()
        .unwrap();
    assert_eq!(read, points);
    let read: Vec<Point> = st
        .iter_from_reader_packed(std::io::BufReader::with_capacity(1, Trickle(&packed)))
        .collect::<serde_capnp::Result<_>>()
        .unwrap();
    assert_eq!(read, points);
}

#[test]
fn framing_reads_multi_segment_messages() {
    // The root in segment 1, behind a far pointer in segment 0; an empty segment between.
    let words: [&[u64]; 3] = [&[2 | 2 << 32], &[], &[0x0001_0000_0000_0000, 0]];
    let mut bytes = 2u32.to_le_bytes().to_vec();
    for s in &words {
        bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    for s in &words {
        bytes.extend(s.iter().flat_map(|w| w.to_le_bytes()));
    }
    let segments = framing::read_message(&bytes[..], &ReadOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments.word_count(), 3);
    assert_eq!(segments.get(1), Some(&[][..]));
    let (split, end) = framing::split_message(&bytes, &ReadOptions::default()).unwrap();
    assert_eq!(split, segments.to_slices());
    assert_eq!(end, bytes.len());
    let packed = serde_capnp::packing::pack(&bytes);
    let unpacked = framing::read_packed_message(&packed[..], &ReadOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(unpacked.to_slices(), segments.to_slices());
}

// -------------------------------------------------------------------------------------------
// Packed limits
// -------------------------------------------------------------------------------------------

#[test]
fn packed_streams_keep_to_the_traversal_limit() {
    // A table claiming 1000 words, then 1000 zero words in eight bytes.
    let mut packed = vec![0x30, 0xe8, 0x03];
    packed.extend_from_slice(&[0, 0xff, 0, 0xff, 0, 0xff, 0, 0xe7]);
    let small = ReadOptions {
        traversal_limit_in_words: 999,
        ..ReadOptions::default()
    };
    let err = framing::read_packed_message(&packed[..], &small).unwrap_err();
    assert_eq!(
        err.message(),
        "message claims 1000 words, more than the traversal limit of 999 words"
    );
    let err = point_type()
        .with_read_options(small)
        .from_slice_packed::<IgnoredAny>(&packed)
        .unwrap_err();
    assert_eq!(err.category(), Category::Limit);
    let fits = ReadOptions {
        traversal_limit_in_words: 1000,
        ..ReadOptions::default()
    };
    let message = framing::read_packed_message(&packed[..], &fits)
        .unwrap()
        .unwrap();
    assert_eq!(message.word_count(), 1000);

    // Flat packed data has no table: unpacking stops at the limit.
    let bomb = [0u8, 255].repeat(4);
    let err = framing::read_flat_packed(&bomb[..], &small).unwrap_err();
    assert_eq!(
        err.message(),
        "message is larger than the traversal limit of 999 words"
    );
    let err = serde_capnp::packing::unpack_with_limit(&bomb, 999).unwrap_err();
    assert_eq!(err.category(), Category::Limit);
    assert_eq!(
        framing::read_flat_packed(&bomb[..], &fits)
            .unwrap_err()
            .category(),
        Category::Limit
    );
    let read = framing::read_flat_packed(&bomb[..], &ReadOptions::default()).unwrap();
    assert_eq!(read.word_count(), 4 * 256);
}

#[test]
fn a_packed_run_may_not_cross_the_end_of_a_message() {
    // One segment of one zero word, with the zero run going on for two more words.
    let packed = [0x10, 0x01, 0x00, 0x02];
    let err = framing::read_packed_message(&packed[..], &ReadOptions::default()).unwrap_err();
    assert_eq!(
        err.message(),
        "a packed run continues past the end of the message"
    );
    let err = point_type()
        .from_slice_packed::<IgnoredAny>(&packed)
        .unwrap_err();
    assert_eq!(err.category(), Category::Wire);
}

#[test]
fn flat_messages_are_read_to_the_end_within_the_limit() {
    let st = point_type();
    let segment = st.to_segments(&point(3)).unwrap().remove(0);
    let mut with_straggler = segment.clone();
    with_straggler.extend_from_slice(&[1, 2, 3]);
    let read = framing::read_flat(&with_straggler[..], &ReadOptions::default()).unwrap();
    assert_eq!(read.to_slices(), [&segment[..]]);
    assert_eq!(
        st.from_segments::<Point>(&read.to_slices()).unwrap(),
        point(3)
    );
    let words = segment.len() as u64 / 8;
    let tight = ReadOptions {
        traversal_limit_in_words: words - 1,
        ..ReadOptions::default()
    };
    let err = framing::read_flat(&segment[..], &tight).unwrap_err();
    assert_eq!(err.category(), Category::Limit);
    let exact = ReadOptions {
        traversal_limit_in_words: words,
        ..ReadOptions::default()
    };
    assert!(framing::read_flat(&with_straggler[..], &exact).is_ok());
}

// -------------------------------------------------------------------------------------------
// Input in another format
// -------------------------------------------------------------------------------------------

fn ends_with(err: &Error, hint: &str) {
    assert!(
        err.message().ends_with(hint),
        "`{}` should end with `{hint}`",
        err.message()
    );
}

#[test]
fn packed_input_read_as_unpacked_says_it_looks_packed() {
    let st = point_type();
    let packed = st.to_vec_packed(&point(4)).unwrap();
    let hint = "; the input looks like a packed message, not an unpacked message";
    let err = st.from_reader::<_, Point>(&packed[..]).unwrap_err();
    assert!(err.message().starts_with("message claims "), "{err:?}");
    ends_with(&err, hint);
    ends_with(
        &st.iter_from_reader::<_, Point>(&packed[..])
            .next()
            .unwrap()
            .unwrap_err(),
        hint,
    );
    ends_with(
        &framing::read_message(&packed[..], &ReadOptions::default()).unwrap_err(),
        hint,
    );
    // Every reader of a slice gives the same hint.
    ends_with(&st.from_slice::<Point>(&packed).unwrap_err(), hint);
    ends_with(&st.read_value(&packed).unwrap_err(), hint);
    ends_with(&st.to_json(&packed).unwrap_err(), hint);
    ends_with(&st.to_text(&packed).unwrap_err(), hint);
    ends_with(&st.reader(&packed).err().unwrap(), hint);
}

#[test]
fn unpacked_input_read_as_packed_says_it_looks_unpacked() {
    let st = point_type();
    let binary = st.to_vec(&point(5)).unwrap();
    let hint = "; the input looks like an unpacked message, not a packed message";
    for err in [
        st.from_reader_packed::<_, Point>(&binary[..]).unwrap_err(),
        st.from_slice_packed::<Point>(&binary).unwrap_err(),
        st.iter_from_reader_packed::<_, Point>(&binary[..])
            .next()
            .unwrap()
            .unwrap_err(),
    ] {
        ends_with(&err, hint);
    }
}

#[test]
fn text_and_json_read_as_messages_say_what_they_look_like() {
    let st = point_type();
    let json = br#"{"x": 1.5, "y": -2, "label": "a point"}"#;
    let err = st.from_reader::<_, Point>(&json[..]).unwrap_err();
    ends_with(&err, "; the input looks like JSON, not an unpacked message");
    let text = b"(x = 1.5, y = -2, label = \"a point\")";
    let err = st.from_reader::<_, Point>(&text[..]).unwrap_err();
    ends_with(
        &err,
        "; the input looks like Cap'n Proto text, not an unpacked message",
    );
    let err = st.from_reader_packed::<_, Point>(&text[..]).unwrap_err();
    ends_with(
        &err,
        "; the input looks like Cap'n Proto text, not a packed message",
    );
}

#[test]
fn hints_leave_other_errors_alone() {
    let st = point_type();
    // A well-framed message whose root is a list: it looks unpacked, so no hint.
    let list_root = [0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    let err = st.from_reader::<_, Point>(&list_root[..]).unwrap_err();
    assert!(!err.message().contains("looks like"), "{err:?}");
    // I/O errors are the reader's, whatever the input looked like.
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the disk is on fire"))
        }
    }
    let err = st.from_reader::<_, Point>(Failing).unwrap_err();
    assert_eq!(err.category(), Category::Io);
    let packed = st.to_vec_packed(&point(6)).unwrap();
    let io = Error::from(std::io::Error::other("gone"));
    let same = framing::hint_format(io, &packed, Format::Binary);
    assert_eq!(same.message(), "gone");
}

#[test]
fn format_names_and_descriptions() {
    let all = [
        (Format::Binary, "binary", "an unpacked message"),
        (Format::Packed, "packed", "a packed message"),
        (Format::Flat, "flat", "a flat message"),
        (Format::FlatPacked, "flat-packed", "a packed flat message"),
        (Format::Text, "text", "Cap'n Proto text"),
        (Format::Json, "json", "JSON"),
    ];
    for (format, name, description) in all {
        assert_eq!(format.name(), name);
        assert_eq!(format.to_string(), description);
    }
}

#[test]
fn hints_from_packed_readers_do_not_depend_on_how_they_buffer() {
    // What a packed reader guesses from is the start of the message as it came in, pieced
    // together from the reader's buffer and what was consumed: never garbled, and complete
    // enough once the buffer holds a few dozen bytes.
    let st = point_type();
    let binary = st.to_vec(&point(7)).unwrap();
    let text = b"(x = 1.5, y = -2, label = \"a point\")".to_vec();
    let cases = [
        (
            binary,
            "; the input looks like an unpacked message, not a packed message",
        ),
        (
            text,
            "; the input looks like Cap'n Proto text, not a packed message",
        ),
    ];
    for (input, hint) in &cases {
        for capacity in [1, 2, 3, 5, 8, 13, 64, 8192] {
            let reader = std::io::BufReader::with_capacity(capacity, &input[..]);
            let err = st.from_reader_packed::<_, Point>(reader).unwrap_err();
            let message = err.message();
            assert!(
                !message.contains("looks like") || message.ends_with(hint),
                "capacity {capacity}: {message}"
            );
            if capacity >= 64 {
                assert!(message.ends_with(hint), "capacity {capacity}: {message}");
            }
        }
    }
}
