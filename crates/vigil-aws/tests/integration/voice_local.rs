//! The voice adapter end to end against vigil-local's stand-in for SendVoiceMessage
//! (moto has no voice API): the client from `sdk::voice`, the real wire protocol, the
//! stand-in's typed ValidationException for an unreachable number.

use vigil_aws::voice::VoiceCaller;
use vigil_domain::alerts::Language;
use vigil_domain::ports::NotifyError;
use vigil_local::voice::VoiceStandIn;

const ORIGIN: &str = "+15550009999";

#[tokio::test]
async fn a_call_reaches_the_stand_in_as_sent_and_an_unreachable_number_is_rejected() {
    let stand_in = VoiceStandIn::start_local().await.unwrap();
    stand_in.mark_unreachable("+447700900000");
    let sdk = vigil_local::endpoint::sdk_config(&stand_in.endpoint_url()).await;
    let caller = VoiceCaller::new(vigil_aws::sdk::voice(&sdk), ORIGIN, Some("vigil-voice".into()));

    let id = caller.call("+5511900001111", "Vigil: Ana caiu às 10h42", Language::PtBr).await.unwrap();
    let calls = stand_in.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.message_id.as_deref(), Some(id.as_str()));
    assert_eq!((call.destination.as_str(), call.origination.as_str()), ("+5511900001111", ORIGIN));
    assert_eq!((call.voice_id.as_deref(), call.body_text_type.as_deref()), (Some("CAMILA"), Some("SSML")));
    assert_eq!(
        call.body.as_deref(),
        Some(r#"<speak>Vigil: Ana caiu às 10h42<break time="1s"/>Vigil: Ana caiu às 10h42</speak>"#)
    );
    assert_eq!(call.configuration_set.as_deref(), Some("vigil-voice"));

    let err = caller.call("+447700900000", "Vigil", Language::En).await.unwrap_err();
    assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
    assert_eq!(stand_in.calls().len(), 2);
    assert_eq!(stand_in.calls()[1].message_id, None);
}
