//! `org.vifkit.NicModels1`: the NIC models a guest type can use.

use zbus::interface;

use super::error::ServiceError;
use super::limits;
use translator::GuestType;

/// The `org.vifkit.NicModels1` interface.
#[derive(Debug, Default)]
pub struct NicModels;

/// A guest type argument: `hvm`, `pv` or `pvh`.
pub fn guest_type(s: &str) -> Result<GuestType, ServiceError> {
    if s.len() > limits::MAX_NAME {
        return Err(ServiceError::TooLarge(format!(
            "The guest type is {} bytes long",
            s.len()
        )));
    }
    s.parse()
        .map_err(|e: translator::guest::GuestTypeError| ServiceError::InvalidArgs(e.to_string()))
}

/// `(model, description, emulated)` for each model `guest` can use; every model for an
/// empty guest type.
pub fn list(guest: &str) -> Result<Vec<(String, String, bool)>, ServiceError> {
    let fits: Box<dyn Fn(&translator::model::NicModel) -> bool> = if guest.is_empty() {
        Box::new(|_| true)
    } else {
        let g = guest_type(guest)?;
        Box::new(move |m| m.fits(g))
    };
    Ok(translator::model::MODELS
        .iter()
        .filter(|m| fits(m))
        .map(|m| (m.name.to_owned(), m.description.to_owned(), m.emulated))
        .collect())
}

#[interface(name = "org.vifkit.NicModels1")]
impl NicModels {
    /// The NIC models a guest of type `guest_type` (`hvm`, `pv`, `pvh`; empty for all)
    /// can use: name, description, and whether it is emulated hardware.
    async fn list(&self, guest_type: &str) -> Result<Vec<(String, String, bool)>, ServiceError> {
        list(guest_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pv_guests_get_netfront_only() {
        let pv = list("pv").unwrap();
        assert_eq!(pv.len(), 1);
        assert_eq!(pv[0].0, "netfront");
        assert!(!pv[0].2);
        assert!(list("hvm").unwrap().len() > 5);
        assert_eq!(list("").unwrap().len(), translator::model::MODELS.len());
        assert_eq!(
            list("kvm").unwrap_err(),
            ServiceError::InvalidArgs("Unknown guest type `kvm` (expected hvm, pv or pvh)".into())
        );
    }
}
