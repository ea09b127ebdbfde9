//! `huella keygen`: write a new signer key (mode 0600) and print its verifier key.

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
}

/// run writes the key.
pub fn run(args: KeygenArgs) -> CliResult {
    let key = keyfile::generate(KeyName::new(args.name)?)?;
    keyfile::write_signer(&args.out, &key)?;
    eprintln!(
        "wrote signer key to {} (mode 0600) and verifier key to {}",
        args.out.display(),
        keyfile::public_path(&args.out).display()
    );
    println!("{}", key.verifier());
    Ok(())
}
