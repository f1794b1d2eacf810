use super::*;

/// `{"_user_id": "7", "_permanent": True, "username": "bob", "_fresh": True, "csrf":
/// b"\x00\x01", "at": datetime(2026, 12, 6, 10), "n": 123456789012, "neg": -5, "big": 2**100,
/// "f": 1.5, "l": [1, "x"], "t": (1, 2)}`, pickled by CPython 3.11 with protocols 0, 2 and 5.
const SESSION: [&str; 3] = [
    "286470300a565f757365725f69640a70310a56370a70320a73565f7065726d616e656e740a70330a4930310a7356757365726e616d650a70340a56626f620a70350a73565f66726573680a70360a4930310a7356637372660a70370a635f636f646563730a656e636f64650a70380a28565c7530303030010a70390a566c6174696e310a7031300a747031310a527031320a735661740a7031330a636461746574696d650a6461746574696d650a7031340a2867380a285607ea0c065c75303030615c75303030305c75303030305c75303030305c75303030305c75303030300a7031350a6731300a747031360a527031370a747031380a527031390a73566e0a7032300a4c3132333435363738393031324c0a73566e65670a7032310a492d350a73566269670a7032320a4c313236373635303630303232383232393430313439363730333230353337364c0a7356660a7032330a46312e350a73566c0a7032340a286c7032350a49310a6156780a7032360a617356740a7032370a2849310a49320a747032380a732e",
    "80027d71002858080000005f757365725f696471015801000000377102580a0000005f7065726d616e656e747103885808000000757365726e616d6571045803000000626f62710558060000005f66726573687106885804000000637372667107635f636f646563730a656e636f64650a710858020000000001710958060000006c6174696e31710a86710b52710c58020000006174710d636461746574696d650a6461746574696d650a710e6808580b00000007c3aa0c060a0000000000710f680a86711052711185711252711358010000006e71148a05141a99be1c58030000006e656771154afbffffff580300000062696771168a0d000000000000000000000000105801000000667117473ff800000000000058010000006c71185d7119284b01580100000078711a65580100000074711b4b014b0286711c752e",
    "800595c7000000000000007d94288c085f757365725f6964948c0137948c0a5f7065726d616e656e7494888c08757365726e616d65948c03626f62948c065f667265736894888c04637372669443020001948c026174948c086461746574696d65948c086461746574696d65949394430a07ea0c060a000000000094859452948c016e948a05141a99be1c8c036e6567944afbffffff8c03626967948a0d000000000000000000000000108c016694473ff80000000000008c016c945d94284b018c017894658c0174944b014b028694752e",
];

fn entry<'a>(entries: &'a [(String, Scalar)], key: &str) -> Option<&'a Scalar> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[test]
fn cpython_session_pickles_read_in_every_protocol() {
    for hex_pickle in SESSION {
        let bytes = hex::decode(hex_pickle).expect("hex");
        let entries = read_dict(&bytes, 256).expect("reads").expect("a dict");
        assert_eq!(entry(&entries, "_user_id"), Some(&Scalar::Text("7".into())));
        assert_eq!(
            entry(&entries, "username"),
            Some(&Scalar::Text("bob".into()))
        );
        assert_eq!(entry(&entries, "_permanent"), Some(&Scalar::Bool(true)));
        assert_eq!(entry(&entries, "n"), Some(&Scalar::Int(123_456_789_012)));
        assert_eq!(entry(&entries, "neg"), Some(&Scalar::Int(-5)));
        assert_eq!(entry(&entries, "big"), Some(&Scalar::Other));
        assert_eq!(entry(&entries, "at"), Some(&Scalar::Other));
        assert_eq!(entries.len(), 12);
    }
}

/// PROTO 4, then `body`, then STOP.
fn pickle(body: &[u8]) -> Vec<u8> {
    [b"\x80\x04".as_slice(), body, b"."].concat()
}

#[test]
fn a_memo_bomb_is_one_shared_string() {
    // 70,000 references to one 100 KB string in a 240 KB file (the attack that took
    // `yamctl up` to 2.8 GB): {"_user_id": [s, s, s, …]}.
    let mut body = vec![b'X'];
    body.extend(100_000u32.to_le_bytes());
    body.extend(std::iter::repeat_n(b'a', 100_000));
    body.extend(b"\x94\x30}\x8c\x08_user_id](");
    body.extend(b"h\x00".repeat(70_000));
    body.extend(b"es");
    let bytes = pickle(&body);
    assert!(bytes.len() < 250_000, "{}", bytes.len());
    let entries = read_dict(&bytes, 256).expect("reads").expect("dict");
    assert_eq!(entries, vec![("_user_id".to_owned(), Scalar::Other)]);
}

#[test]
fn deep_nesting_and_cycles_cost_no_stack() {
    // 120,000 nested lists in 240 KB (overflowed the debouncer thread's stack before): more
    // values than any session has, refused; 90,000 are read, flat.
    let nested = |n: usize| pickle(&[vec![b'('; n], vec![b'l'; n]].concat());
    assert_eq!(read_dict(&nested(120_000), 256), Err(PickleError::TooMany));
    assert_eq!(read_dict(&nested(90_000), 256), Ok(None));
    // A dict that contains itself.
    assert!(read_dict(&pickle(b"}\x94h\x00h\x00s"), 256).is_ok_and(|d| d.is_some()));
}

#[test]
fn hostile_lengths_and_cut_pickles_are_refused_without_allocating() {
    assert_eq!(
        read_dict(&pickle(b"X\xff\xff\xff\xff"), 256),
        Err(PickleError::Truncated)
    );
    assert_eq!(
        read_dict(&pickle(b"\x8e\xff\xff\xff\xff\xff\xff\xff\x7f"), 256),
        Err(PickleError::Truncated)
    );
    let whole = hex::decode(SESSION[2]).expect("hex");
    for cut in [1, 10, 50, whole.len() - 1] {
        assert!(read_dict(&whole[..cut], 256).is_err(), "cut at {cut}");
    }
    assert_eq!(
        read_dict(b"\x80\x04\xff", 256),
        Err(PickleError::Opcode(0xff))
    );
    assert!(
        read_dict(b"\x80\x04h\x05.", 256).is_err(),
        "an unknown memo"
    );
    assert_eq!(read_dict(&pickle(b"K\x07"), 256), Ok(None), "not a dict");
}

#[test]
fn too_many_values_stop_early() {
    let body = [
        b"]".to_vec(),
        b"(".to_vec(),
        b"N".repeat(MAX_ITEMS + 10),
        b"e".to_vec(),
    ]
    .concat();
    assert_eq!(read_dict(&pickle(&body), 256), Err(PickleError::TooMany));
}
