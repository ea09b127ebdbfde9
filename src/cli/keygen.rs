//! `huella keygen`: write a new signer key (mode 0600), or with `--witness` a witness key,
//! and print its verifier key.

use std::path::PathBuf;

use clap::Args;
use huella_core::keys::KeyName;

use crate::cli::CliResult;
use crate::keyfile;

/// Arguments of `huella keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Key name, e.g. `cbp.dhs.gov/huella` (no spaces or '+').
    #[arg(long)]
    pub name: String,
    /// File to write the signer key to; `<FILE>.pub` gets the verifier key.
    #[arg(long)]
    pub out: PathBuf,
    /// Write a witness key instead: a C2SP `cosignature/v1` key (vkey type 0x04), for
    /// `huella witness`.
    #[arg(long)]
    pub witness: bool,
}

/// run writes the key.
pub fn run(args: KeygenArgs) -> CliResult {
    let name = KeyName::new(args.name)?;
    let verifier = if args.witness {
        let seed = zeroize::Zeroizing::new(keyfile::random_bytes()?);
        let key = huella_core::cosignature::CosignerSigner::from_seed(name, &seed);
        keyfile::write_cosigner(&args.out, &key)?;
        key.verifier().to_string()
    } else {
        let key = keyfile::generate(name)?;
        keyfile::write_signer(&args.out, &key)?;
        key.verifier().to_string()
    };
    eprintln!(
        "wrote {} key to {} (mode 0600) and verifier key to {}",
        if args.witness { "witness" } else { "signer" },
        args.out.display(),
        keyfile::public_path(&args.out).display()
    );
    println!("{verifier}");
    Ok(())
}
