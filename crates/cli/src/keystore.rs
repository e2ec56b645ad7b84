//! Opening a key store from command-line options: the one place the CLI picks a backend and reads
//! a PIN. PINs come from an environment variable, a file or a prompt, never from an argument (it
//! would show in `ps` and shell history), and are never logged.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use shinrai_scu::KeyStore;
use zeroize::Zeroizing;

/// Which SCU backend holds the keys.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Keys sealed in a passphrase-protected file (low assurance; nothing to install).
    Soft,
    /// Keys in a PKCS#11 token (HSM; SoftHSM2 for testing): never extractable.
    Pkcs11,
    /// Keys inside a TPM 2.0 (swtpm for testing): never extractable; ECDSA P-256 only.
    #[cfg(feature = "tpm")]
    Tpm,
}

/// Options that say which key store to open and how to unlock it.
#[derive(clap::Args, Debug, Clone)]
pub struct KeyStoreArgs {
    /// Key store backend.
    #[arg(long, value_enum, default_value = "soft", env = "SHINRAI_BACKEND")]
    pub backend: Backend,
    /// Soft backend: the sealed key store file [default: $HOME/.shinrai/keystore.json]. TPM
    /// backend: the folder of key blobs and audit log [default: $HOME/.shinrai/tpm]; the TPM
    /// itself is named by the TCTI in $SHINRAI_TPM_TCTI [default: device:/dev/tpmrm0].
    #[arg(long, env = "SHINRAI_KEYSTORE")]
    pub keystore: Option<PathBuf>,
    /// PKCS#11 backend: path of the module (.so) to load.
    #[arg(
        long,
        env = "SHINRAI_PKCS11_MODULE",
        default_value = "/usr/lib/softhsm/libsofthsm2.so"
    )]
    pub pkcs11_module: PathBuf,
    /// PKCS#11 backend: label of the token holding the keys.
    #[arg(long, env = "SHINRAI_PKCS11_TOKEN", default_value = "shinrai")]
    pub token: String,
    /// Environment variable that holds the PIN or passphrase.
    #[arg(long, default_value = "SHINRAI_PIN")]
    pub pin_env: String,
    /// Read the PIN or passphrase from this file instead (first line).
    #[arg(long)]
    pub pin_file: Option<PathBuf>,
}

impl KeyStoreArgs {
    /// The soft key store path, defaulting to `$HOME/.shinrai/keystore.json`.
    pub fn soft_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.keystore {
            return Ok(p.clone());
        }
        let home = std::env::var_os("HOME")
            .context("no --keystore given and $HOME is not set; pass --keystore FILE")?;
        Ok(PathBuf::from(home).join(".shinrai").join("keystore.json"))
    }

    /// TPM backend: the key folder (`--keystore`), defaulting to `$HOME/.shinrai/tpm`.
    #[cfg(feature = "tpm")]
    pub fn tpm_dir(&self) -> Result<PathBuf> {
        if let Some(p) = &self.keystore {
            return Ok(p.clone());
        }
        let home = std::env::var_os("HOME")
            .context("no --keystore given and $HOME is not set; pass --keystore DIR")?;
        Ok(PathBuf::from(home).join(".shinrai").join("tpm"))
    }

    /// TPM backend: the TCTI from `$SHINRAI_TPM_TCTI`, defaulting to the kernel resource
    /// manager `device:/dev/tpmrm0`.
    #[cfg(feature = "tpm")]
    pub fn tcti(&self) -> String {
        std::env::var("SHINRAI_TPM_TCTI").unwrap_or_else(|_| "device:/dev/tpmrm0".to_owned())
    }

    /// Opens the TPM key store itself (for quotes and PCRs, which the `KeyStore` trait lacks);
    /// with `create`, a missing store is created first.
    #[cfg(feature = "tpm")]
    pub fn open_tpm(&self, create: bool) -> Result<shinrai_scu::tpm::TpmKeyStore> {
        use shinrai_scu::tpm::TpmKeyStore;
        let pin = self.pin()?;
        let dir = self.tpm_dir()?;
        let exists = dir.join("store.json").exists();
        if !exists && !create {
            bail!(
                "no TPM key store in {}; create one with `shinrai key generate --backend tpm`",
                dir.display()
            );
        }
        let tcti = self.tcti();
        let store = if exists {
            TpmKeyStore::open(&tcti, &dir, pin.as_str())
        } else {
            TpmKeyStore::create(&tcti, &dir, pin.as_str())
        }
        .with_context(|| format!("opening the TPM key store {} on {tcti:?}", dir.display()))?;
        if !exists {
            eprintln!("created TPM key store {}", dir.display());
        }
        Ok(store)
    }

    /// Reads the PIN: `--pin-file`, else the `--pin-env` variable, else a prompt on a terminal.
    pub fn pin(&self) -> Result<Zeroizing<String>> {
        if let Some(f) = &self.pin_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(f)
                    .with_context(|| format!("reading PIN file {}", f.display()))?,
            );
            let line = text.lines().next().unwrap_or_default();
            return Ok(Zeroizing::new(line.to_owned()));
        }
        if let Ok(v) = std::env::var(&self.pin_env) {
            return Ok(Zeroizing::new(v));
        }
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            let p = rpassword::prompt_password("PIN or passphrase: ")
                .context("reading the PIN from the terminal")?;
            return Ok(Zeroizing::new(p));
        }
        bail!(
            "no PIN: set the {} environment variable, pass --pin-file FILE, or run on a terminal",
            self.pin_env
        )
    }

    /// Opens the key store; with `create`, a missing soft key store is created first.
    pub fn open(&self, create: bool) -> Result<Box<dyn KeyStore>> {
        let pin = self.pin()?;
        match self.backend {
            Backend::Soft => {
                let path = self.soft_path()?;
                if !path.exists() {
                    if !create {
                        bail!(
                            "no key store at {}; create one with `shinrai key generate`",
                            path.display()
                        );
                    }
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("creating {}", dir.display()))?;
                    }
                    let store = shinrai_scu::soft::SoftKeyStore::create(&path, pin.as_bytes())
                        .with_context(|| format!("creating key store {}", path.display()))?;
                    eprintln!("created key store {}", path.display());
                    return Ok(Box::new(store));
                }
                let store = shinrai_scu::soft::SoftKeyStore::open(&path, pin.as_bytes())
                    .with_context(|| format!("opening key store {}", path.display()))?;
                Ok(Box::new(store))
            }
            Backend::Pkcs11 => {
                let store = shinrai_scu::pkcs11::Pkcs11KeyStore::open(
                    &self.pkcs11_module,
                    &self.token,
                    pin.as_str(),
                )
                .with_context(|| {
                    format!(
                        "opening PKCS#11 token {:?} with module {}",
                        self.token,
                        self.pkcs11_module.display()
                    )
                })?;
                Ok(Box::new(store))
            }
            #[cfg(feature = "tpm")]
            Backend::Tpm => {
                drop(pin);
                Ok(Box::new(self.open_tpm(create)?))
            }
        }
    }
}
