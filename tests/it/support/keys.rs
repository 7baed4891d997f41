//! OpenPGP test keys, the same for the same seed and user id (fixed RNG and creation time):
//! for signing RPMs (the rpm crate's signer) and repomd.xml (detached signatures).

/// An Ed25519 key pair in the forms the tests need.
pub struct TestKey {
    pub signer: rpm::signature::pgp::Signer,
    pub secret: pgp::composed::SignedSecretKey,
    /// The armored public key, as an `RPM-GPG-KEY-*` file holds it.
    pub public_asc: String,
    /// 16 lowercase hex digits.
    pub key_id: String,
}

/// An Ed25519 secret key, the same for the same seed and uid (fixed RNG and creation time).
pub fn gen_secret_key(seed: u64, uid: &str) -> pgp::composed::SignedSecretKey {
    use pgp::composed::{KeyType, SecretKeyParamsBuilder};
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let params = SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(uid.into())
        .created_at(pgp::types::Timestamp::from_secs(1_700_000_000))
        .build()
        .unwrap();
    params.generate(&mut rng).unwrap()
}

/// `gpg --detach-sign --armor` of `data`, made with the pgp crate.
pub fn detached_sign(sk: &pgp::composed::SignedSecretKey, data: &[u8]) -> String {
    use pgp::composed::DetachedSignature;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    DetachedSignature::sign_binary_data(
        &mut rng,
        &sk.primary_key,
        &pgp::types::Password::empty(),
        pgp::crypto::hash::HashAlgorithm::Sha256,
        data,
    )
    .unwrap()
    .to_armored_string(None.into())
    .unwrap()
}

/// An Ed25519 signing key, the same for the same seed (fixed RNG and creation time).
pub fn gen_key(seed: u64, uid: &str) -> TestKey {
    use pgp::types::KeyDetails;
    let secret = gen_secret_key(seed, uid);
    let secret_asc = secret.to_armored_string(None.into()).unwrap();
    let public_asc = secret
        .to_public_key()
        .to_armored_string(None.into())
        .unwrap();
    TestKey {
        signer: rpm::signature::pgp::Signer::from_asc(&secret_asc).unwrap(),
        key_id: hex::encode(secret.legacy_key_id().as_ref()),
        public_asc,
        secret,
    }
}
