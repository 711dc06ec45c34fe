//! Modulation and coding schemes: what one MCS index means in each format, and the data
//! subcarriers of each channel width.

/// The modulation of each subcarrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Modulation {
    /// BPSK, 1 coded bit per subcarrier.
    Bpsk,
    /// QPSK, 2 bits.
    Qpsk,
    /// 16-QAM, 4 bits.
    Qam16,
    /// 64-QAM, 6 bits.
    Qam64,
    /// 256-QAM, 8 bits (VHT and HE).
    Qam256,
    /// 1024-QAM, 10 bits (HE).
    Qam1024,
}

impl Modulation {
    /// Coded bits per subcarrier per stream (N_BPSCS).
    pub const fn bits_per_subcarrier(self) -> u32 {
        match self {
            Self::Bpsk => 1,
            Self::Qpsk => 2,
            Self::Qam16 => 4,
            Self::Qam64 => 6,
            Self::Qam256 => 8,
            Self::Qam1024 => 10,
        }
    }

    /// A short name, as tables print it (`64-QAM`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bpsk => "BPSK",
            Self::Qpsk => "QPSK",
            Self::Qam16 => "16-QAM",
            Self::Qam64 => "64-QAM",
            Self::Qam256 => "256-QAM",
            Self::Qam1024 => "1024-QAM",
        }
    }
}

/// The code rate `numerator / denominator` of the forward error correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeRate {
    /// Information bits.
    pub numerator: u32,
    /// Coded bits.
    pub denominator: u32,
}

impl CodeRate {
    const fn new(numerator: u32, denominator: u32) -> Self {
        Self {
            numerator,
            denominator,
        }
    }
}

/// What one MCS index selects: a modulation and a code rate (per spatial stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scheme {
    /// The modulation.
    pub modulation: Modulation,
    /// The code rate.
    pub rate: CodeRate,
}

/// The schemes of MCS 0 to 11, in order: HT MCS 0-7 of one stream (IEEE 802.11-2020 Table
/// 19-27), VHT MCS 0-9 (Table 21-30 ff.), HE MCS 0-11 (Table 27-55 ff.) share the first
/// entries.
const SCHEMES: [Scheme; 12] = [
    Scheme {
        modulation: Modulation::Bpsk,
        rate: CodeRate::new(1, 2),
    },
    Scheme {
        modulation: Modulation::Qpsk,
        rate: CodeRate::new(1, 2),
    },
    Scheme {
        modulation: Modulation::Qpsk,
        rate: CodeRate::new(3, 4),
    },
    Scheme {
        modulation: Modulation::Qam16,
        rate: CodeRate::new(1, 2),
    },
    Scheme {
        modulation: Modulation::Qam16,
        rate: CodeRate::new(3, 4),
    },
    Scheme {
        modulation: Modulation::Qam64,
        rate: CodeRate::new(2, 3),
    },
    Scheme {
        modulation: Modulation::Qam64,
        rate: CodeRate::new(3, 4),
    },
    Scheme {
        modulation: Modulation::Qam64,
        rate: CodeRate::new(5, 6),
    },
    Scheme {
        modulation: Modulation::Qam256,
        rate: CodeRate::new(3, 4),
    },
    Scheme {
        modulation: Modulation::Qam256,
        rate: CodeRate::new(5, 6),
    },
    Scheme {
        modulation: Modulation::Qam1024,
        rate: CodeRate::new(3, 4),
    },
    Scheme {
        modulation: Modulation::Qam1024,
        rate: CodeRate::new(5, 6),
    },
];

/// The scheme of per-stream MCS `mcs` (0 to 11), if there is one.
pub fn scheme(mcs: u8) -> Option<Scheme> {
    SCHEMES.get(usize::from(mcs)).copied()
}
